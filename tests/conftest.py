"""Shared fixtures. The suite runs on SQLite by default and on PostgreSQL when
CALLCENTER_TEST_DATABASE_URL points at a server (`make test` does both)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from callcenter.config import Settings, load_settings
from callcenter.db import make_engine, make_session_factory
from callcenter.migrate import upgrade
from callcenter.models import Base
from callcenter.wiring import load_services

# Every process wires the same handlers (callcenter/handlers.py); so does every test, whichever it imports.
load_services()

TEST_DB = os.environ.get("CALLCENTER_TEST_DATABASE_URL", "sqlite")


def is_postgres() -> bool:
    return TEST_DB.startswith("postgresql")


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database for the whole run: a SQLite file to copy, or a fresh PostgreSQL database."""
    if is_postgres():
        admin = make_url(TEST_DB)
        name = f"hotline_test_{uuid.uuid4().hex[:10]}"
        admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with admin_engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = admin.set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        yield url
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()
    else:
        path = tmp_path_factory.mktemp("template") / "template.sqlite"
        url = f"sqlite:///{path}"
        upgrade(url)
        yield str(path)


@pytest.fixture
def database_url(database_template: str, tmp_path) -> Iterator[str]:  # noqa: ANN001
    if is_postgres():
        yield database_template
        engine = create_engine(database_template)
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with engine.begin() as conn:
            # A test that leaks an open transaction should fail loudly, not hang the run.
            conn.execute(text("SET lock_timeout = '20s'"))
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            conn.execute(text("ALTER SEQUENCE ticket_number_seq RESTART WITH 1"))
        engine.dispose()
    else:
        path = tmp_path / "test.sqlite"
        shutil.copy(database_template, path)
        yield f"sqlite:///{path}"


@pytest.fixture
def settings(database_url: str, tmp_path) -> Settings:  # noqa: ANN001
    s = load_settings(env={"CALLCENTER_DATABASE_URL": database_url})
    s.recordings_dir = str(tmp_path / "recordings")
    s.public_url = "http://hotline.test"
    s.secret_key = "test-secret"
    # A turn's emergency deadline is a wall-clock budget: on a loaded CI machine an ordinary turn may take
    # seconds. Tests of the deadline itself set a short one and hold the database up on purpose.
    s.voice_turn_seconds = 60.0
    return s


@pytest.fixture(autouse=True)
def _webhook_deadline_for_a_loaded_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Like voice_turn_seconds above: every signed Twilio webhook also has its own deadline (10 s, within
    Twilio's 15 s), which an ordinary webhook passed on a loaded CI machine (a queue poll answered with the
    emergency number). The in-process suite gets 60 s; the fault tests run real processes with the real one."""
    from webhooks import twilio_signature

    monkeypatch.setattr(twilio_signature, "WEBHOOK_SECONDS", 60.0)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine):  # noqa: ANN201
    return make_session_factory(engine)


@pytest.fixture
def session(session_factory) -> Iterator[Session]:  # noqa: ANN001
    s = session_factory()
    yield s
    s.rollback()
    s.close()


@pytest.fixture
def now() -> datetime:
    # A Tuesday 10:00 in Budapest: inside everyone's working hours.
    return datetime(2026, 10, 6, 8, 0, tzinfo=UTC)


@pytest.fixture
def demo(session: Session, now: datetime):  # noqa: ANN201
    from callcenter.demo import seed_demo

    seed_demo(session, now)
    session.commit()
    return DemoData(session)


class DemoData:
    """Handy lookups of the seeded demo rows."""

    def __init__(self, session: Session) -> None:
        from sqlalchemy import select

        from callcenter.models import Asset, Company, Contact, StaffUser

        self.budapest = session.scalar(select(Company).where(Company.name == "Budapest Demo Kft."))
        self.athens = session.scalar(select(Company).where(Company.name == "Athens Demo A.E."))
        self.anna = session.scalar(select(Contact).where(Contact.name == "Kovács Anna"))
        self.nikos = session.scalar(select(Contact).where(Contact.name == "Nikos Papadopoulos"))
        self.pbx = session.scalar(select(Asset).where(Asset.identifier == "ATH-PBX-01"))
        self.staff = {u.username: u for u in session.scalars(select(StaffUser))}


@pytest.fixture
def app(settings: Settings, engine: Engine):  # noqa: ANN201
    from callcenter.app import create_app

    app = create_app(settings, engine)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app):  # noqa: ANN001, ANN201
    return app.test_client()


@pytest.fixture
def api_token(demo, session: Session, now: datetime):  # noqa: ANN001, ANN201
    from callcenter.auth import issue_token

    def make(username: str = "agent1") -> dict[str, str]:
        token = issue_token(session, username, now)
        session.commit()
        return {"Authorization": f"Bearer {token}"}

    return make


# The paging tests' set-up (tests/paging_harness.py): a fake Twilio that posts signed callbacks to the
# app, and a Pager on its clock with eng2 on call. A module that needs another `fake` defines its own.
@pytest.fixture
def fake():  # noqa: ANN201
    from fake_twilio import FakeTwilio

    with FakeTwilio() as f:
        yield f


@pytest.fixture
def pager(settings, engine, session_factory, demo, fake, app, now):  # noqa: ANN001, ANN201
    from paging_harness import Pager

    fake.attach_app(app, settings.public_url)
    p = Pager(settings, engine, session_factory, fake, now)
    app.config["PAGING_CLOCK"] = lambda: p.t
    p.put_on_call("eng2")
    return p
