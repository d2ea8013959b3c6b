"""A database that does not answer in time: timeouts as settings, a voice turn that cannot finish within its
budget sends the caller to the emergency number (Twilio and FastAGI) and leaves nothing half-written.

Here the database is held up by a lock another transaction keeps (both databases); tests/faults/ stalls a
real PostgreSQL connection with a TCP proxy."""

from __future__ import annotations

import sqlite3
import threading
import time
import xml.etree.ElementTree as ET

import pytest
from agi_peer import AGIPeer, plausible_reply, run_peers
from conftest import is_postgres
from hotline_helpers import ANNA, HOTLINE_NUMBER, IN_HOURS, call_row, tickets
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from callcenter.config import load_settings
from callcenter.db import DbTimeouts, deadline, make_engine, past_deadline, remaining, session_scope
from callcenter.models import Call

# How a round trip past its deadline fails: the driver's OperationalError (SQLite raises it before the
# statement, PostgreSQL's connection gives up on the server), or SQLAlchemy's wrapping of it.
DEADLINE_ERRORS = (OperationalError, sqlite3.OperationalError)


def test_timeouts_are_settings_with_defaults(tmp_path) -> None:  # noqa: ANN001
    defaults = load_settings(env={})
    assert DbTimeouts.from_settings(defaults) == DbTimeouts(connect=3.0, statement=15.0, pool=3.0)
    assert defaults.voice_turn_seconds == 3.0 and defaults.call_lost_seconds == 30.0
    chosen = load_settings(env={"CALLCENTER_DB_CONNECT_TIMEOUT": "2", "CALLCENTER_DB_STATEMENT_TIMEOUT": "4.5",
                                "CALLCENTER_DB_POOL_TIMEOUT": "1", "CALLCENTER_VOICE_TURN_SECONDS": "2.5"})
    assert DbTimeouts.from_settings(chosen) == DbTimeouts(connect=2.0, statement=4.5, pool=1.0)
    assert chosen.voice_turn_seconds == 2.5


def test_deadlines_nest_to_the_earlier_one() -> None:
    assert remaining() is None
    with deadline(10):
        assert 5 < remaining() <= 10  # set from now (room for a loaded machine pausing this thread)
        with deadline(60):
            assert remaining() <= 10
        with deadline(1):
            assert remaining() <= 1
        with deadline(at=0.0):
            assert past_deadline()
    assert remaining() is None


def test_statement_timeout_is_set_on_postgresql_connections(settings) -> None:  # noqa: ANN001
    if not is_postgres():
        pytest.skip("PostgreSQL's statement_timeout")
    engine = make_engine(settings.database_url, timeouts=DbTimeouts(statement=4.0))
    try:
        with engine.connect() as conn:
            assert conn.scalar(text("SHOW statement_timeout")) == "4s"
            with pytest.raises(OperationalError):
                conn.execute(text("SELECT pg_sleep(6)"))
    finally:
        engine.dispose()


def test_a_round_trip_past_the_deadline_is_abandoned_and_the_pool_recovers(engine) -> None:  # noqa: ANN001
    with pytest.raises(DEADLINE_ERRORS):
        with deadline(0.5), engine.connect() as conn:
            conn.execute(text("SELECT pg_sleep(3)" if is_postgres() else "SELECT 1"))
            with deadline(at=0.0):
                conn.execute(text("SELECT 1"))
    with engine.connect() as conn:  # the abandoned connection was thrown away, not reused half-way
        assert conn.scalar(text("SELECT 1")) == 1


def test_nothing_is_committed_once_the_deadline_passed(session_factory, demo) -> None:  # noqa: ANN001
    with pytest.raises(DEADLINE_ERRORS):
        with deadline(30), session_scope(session_factory) as s:
            s.add(Call(channel="twilio", provider_call_id="CA-too-late", arrived_at=IN_HOURS))
            s.flush()
            with deadline(at=0.0):
                s.commit()
    with session_scope(session_factory) as s:
        assert s.scalar(select(Call).where(Call.provider_call_id == "CA-too-late")) is None


def _row_exists(engine, provider_call_id: str) -> bool:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(text("SELECT 1 FROM calls WHERE provider_call_id = :sid"),
                            {"sid": provider_call_id}).first() is not None


class HeldCall:
    """Another transaction holds a call's row (PostgreSQL) or the database's write lock (SQLite) until released."""

    def __init__(self, engine, provider_call_id: str) -> None:  # noqa: ANN001
        self.engine = engine
        self.sid = provider_call_id
        self.holding = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._hold, daemon=True)

    def _hold(self) -> None:
        with self.engine.connect() as conn:
            if is_postgres():
                conn.execute(text("SELECT id FROM calls WHERE provider_call_id = :sid FOR UPDATE"), {"sid": self.sid})
            else:
                conn.exec_driver_sql("UPDATE calls SET menu_attempts = menu_attempts WHERE provider_call_id = ?",
                                     (self.sid,))
            self.holding.set()
            self.release.wait(60)
            conn.rollback()

    def __enter__(self) -> HeldCall:
        self.thread.start()
        assert self.holding.wait(30)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join(timeout=30)


def test_a_twilio_turn_that_cannot_finish_in_time_routes_to_the_emergency_number(app, settings, fake, demo, engine,
                                                                                   session):  # noqa: ANN001
    settings.twilio_auth_token = fake.auth_token
    fake.attach_app(app, settings.public_url)
    app.config["HOTLINE_CLOCK"] = lambda: IN_HOURS
    call = fake.start_inbound_call(settings.public_url, ANNA, HOTLINE_NUMBER)
    with HeldCall(engine, call.sid):
        settings.voice_turn_seconds = 1.0  # only for the turn the database holds up (a loaded machine is slow)
        call.press("1")
        assert call.state == "dial" and call.heard[-1].text == settings.emergency_number
    root = ET.fromstring(call.documents[-1][1])
    assert [c.tag for c in root] == ["Say", "Dial", "Hangup"]
    row = call_row(session, call.sid)
    assert row.menu_path == "" and row.ticket_id is None and tickets(session) == []  # nothing of the turn


def test_an_agi_turn_that_cannot_finish_in_time_routes_to_the_emergency_number(settings, engine, demo,
                                                                                session):  # noqa: ANN001
    from webhooks.agi_server import FastAGIServer
    from webhooks.fastagi import HotlineAGI

    settings.asterisk_agent_dial = ""
    server = FastAGIServer(HotlineAGI(settings, engine, clock=lambda: IN_HOURS), port=0)
    host, port = server.start_in_thread()
    uid = "1795303247.77"
    holder: list[HeldCall] = []

    async def press_one_while_the_call_is_held(line: str) -> str:
        import asyncio

        # The first turn's writes may still run while the menu plays (a Gather does not wait for them):
        # hold the call once its row is there, so that it is this turn the database holds up.
        deadline = time.monotonic() + 30
        while not await asyncio.get_running_loop().run_in_executor(None, _row_exists, engine, uid):
            assert time.monotonic() < deadline, "the call's first turn was never written"
            await asyncio.sleep(0.02)
        held = HeldCall(engine, uid)
        await asyncio.get_running_loop().run_in_executor(None, held.__enter__)
        holder.append(held)
        settings.voice_turn_seconds = 1.0  # only for the turn the database holds up
        return "200 result=1"

    async def dial_and_let_go(line: str) -> str:
        import asyncio

        for held in holder:  # the database recovers while the caller talks to the emergency number
            await asyncio.get_running_loop().run_in_executor(None, held.__exit__)
        return "200 result=0"

    def script(line: str):  # noqa: ANN202
        if line.startswith("GET DATA") and "menu" in line:
            return press_one_while_the_call_is_held(line)
        if line.startswith("EXEC Dial"):
            return dial_and_let_go(line)
        return plausible_reply(line)

    peer = AGIPeer([], callerid=ANNA, uniqueid=uid, script="hotline", auto_reply=script, io_timeout=30)
    try:
        run_peers(host, port, [peer])
    finally:
        for held in holder:
            held.__exit__()
        server.stop_thread()
    peer.assert_ok()
    dials = [c for c in peer.commands if c.startswith("EXEC Dial")]
    assert dials and settings.emergency_number in dials[-1], peer.commands
    row = call_row(session, uid)
    assert row.ticket_id is None and tickets(session) == []
    assert row.outcome == "emergency_route" and row.ended_at is not None  # its end was written afterwards
