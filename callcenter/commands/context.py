"""What every `callcenter` subcommand shares: the settings and database of one command run.

Nothing heavy is imported here: the settings are read when a command runs, SQLAlchemy when it first
touches the database.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ..config import Settings

log = logging.getLogger("callcenter")


def make_engine(url: str, **kwargs: object):  # noqa: ANN201
    from ..db import make_engine as make

    return make(url, **kwargs)


def make_session_factory(engine, settings: object | None = None):  # noqa: ANN001, ANN201
    from ..db import make_session_factory as make

    return make(engine, settings)


def session_scope(factory):  # noqa: ANN001, ANN201
    from ..db import session_scope as scope

    return scope(factory)


class Context:
    def __init__(self) -> None:
        from ..config import load_settings

        self.settings: Settings = load_settings()
        self._engine = None

    @property
    def engine(self):  # noqa: ANN201
        if self._engine is None:
            from ..db import DbTimeouts

            self._engine = make_engine(self.settings.database_url, timeouts=DbTimeouts.from_settings(self.settings))
        return self._engine

    def session(self):  # noqa: ANN201
        return session_scope(make_session_factory(self.engine, self.settings))


pass_ctx = click.make_pass_decorator(Context, ensure=True)


def now_utc() -> datetime:
    return datetime.now(UTC)


def parse_instant(value: str) -> datetime:
    """An ISO 8601 instant with a UTC offset, in UTC; a usage error otherwise."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 instant") from None
    if parsed.tzinfo is None:
        raise click.BadParameter(f"{value!r} needs a UTC offset, e.g. 2026-10-12T08:00+02:00")
    return parsed.astimezone(UTC)


def staff_or_fail(session, username: str):  # noqa: ANN001, ANN201
    from ..auth import find_staff

    user = find_staff(session, username)
    if user is None:
        raise click.ClickException(f"no staff user {username!r}")
    return user
