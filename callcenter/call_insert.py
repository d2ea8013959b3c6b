"""A new call's row, written in one statement at the end of its first turn (callcenter.calls decides it).

This is the one statement every incoming call runs before its first prompt, so it goes to the driver
directly: SQLAlchemy could not cache the dialects' insert() constructs (it compiled one per call), and
its per-statement machinery was a fifth of the webhook's time. `write_new_call` goes further for a
caller the directory cache knows: a pooled connection and a transaction of its own, no ORM session.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Dialect, Engine
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .models import Call

if TYPE_CHECKING:
    from .calls import CallContext


@dataclass
class CallInsert:
    inserted: bool  # False: the CallSid is already known, nothing was written
    directory_version: int | None = None  # read in the INSERT itself, when it went to the driver


_CALL_COLUMNS = {attr.key: attr.columns[0] for attr in sa_inspect(Call).column_attrs if attr.key != "id"}


@dataclass(frozen=True)
class _CallInsert:
    sql: str
    positional: bool
    # (column name, bind processor or None): what SQLAlchemy would do to each value (UTC datetimes).
    binds: tuple[tuple[str, Callable[[Any], Any] | None], ...]


@lru_cache(maxsize=16)
def _call_insert(dialect: Dialect, columns: tuple[str, ...]) -> _CallInsert | None:
    """INSERT .. ON CONFLICT DO NOTHING RETURNING id for a new call, in the driver's own terms.

    This is the one statement every incoming call runs before its first prompt, so it goes to the
    driver directly: SQLAlchemy could not cache the dialects' insert() constructs (it compiled one per
    call), and its per-statement machinery was a fifth of the webhook's time. Both dialects we run on
    speak ON CONFLICT and RETURNING; anything else takes the ORM path.
    """
    if dialect.name not in ("sqlite", "postgresql"):
        return None
    table = Call.__table__
    style = {"qmark": "?", "format": "%s", "named": ":{}", "pyformat": "%({})s"}.get(dialect.paramstyle)
    if style is None:
        return None
    sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) "
           f"VALUES ({', '.join(style.format(c) for c in columns)}) "
           f"ON CONFLICT (provider_call_id) DO NOTHING "
           f"RETURNING id, (SELECT version FROM directory_version WHERE id = 1)")
    return _CallInsert(sql, dialect.paramstyle in ("qmark", "format"),
                       tuple((c, table.c[c].type._cached_bind_processor(dialect)) for c in columns))


def _insert_values(call: Call) -> dict[str, Any]:
    # What the ORM would insert: the attributes that were set, and the Python-side defaults of the rest.
    state = sa_inspect(call).dict
    values: dict[str, Any] = {}
    for key, column in _CALL_COLUMNS.items():
        if key in state:
            values[column.name] = state[key]
        elif column.default is not None and column.server_default is None:
            default = column.default
            values[column.name] = default.arg(None) if default.is_callable else default.arg
    return values


def _execute_insert(raw: Any, statement: _CallInsert, values: dict[str, Any]) -> tuple[int, int | None] | None:
    """The INSERT on a DBAPI connection: (call id, directory version), or None when the CallSid is known."""
    take_write_lock = getattr(raw, "take_write_lock", None)
    if take_write_lock is not None:
        take_write_lock()  # what db.py's cursor hook does for statements that go through SQLAlchemy
    converted = [(name, bind(values[name]) if bind else values[name]) for name, bind in statement.binds]
    params = tuple(v for _, v in converted) if statement.positional else dict(converted)
    cursor = raw.cursor()
    try:
        cursor.execute(statement.sql, params)
        return cursor.fetchone()
    finally:
        cursor.close()


def insert_call(session: Session, call: Call) -> CallInsert:
    """Write a call from `new_call`; not inserted (and nothing written) when its CallSid is already known
    (a retried webhook or an earlier status callback): the caller then uses `start_call`."""
    connection = session.connection()
    values = _insert_values(call)
    statement = _call_insert(connection.dialect, tuple(values))
    if statement is not None:
        row = _execute_insert(connection.connection.dbapi_connection, statement, values)
        if row is None:
            return CallInsert(False)
        # The row is written; the object stays outside the session (nothing of it is left to flush).
        call.id = row[0]
        return CallInsert(True, row[1])
    try:
        with session.begin_nested():
            session.add(call)
        return CallInsert(True)
    except IntegrityError:
        return CallInsert(False)


def write_new_call(bind: Engine, ctx: CallContext) -> bool:
    """Commit a call from `new_cached_call` in a transaction of its own, on a pooled connection and
    without an ORM session (whose own work cost more than the INSERT): a call's first webhook, the
    common case. True once committed; False, with nothing written, when its CallSid is already known or
    the directory moved past the version its identity came from: the caller then takes the unit of
    work (`FlowEngine.start`), which decides on the existing row or identifies the caller afresh."""
    values = _insert_values(ctx.call)
    statement = _call_insert(bind.dialect, tuple(values))
    if statement is None:
        return False
    raw = bind.raw_connection()
    try:
        row = _execute_insert(raw.dbapi_connection, statement, values)
        if row is None or row[1] != ctx.assumed_directory_version:
            raw.rollback()
            return False
        raw.commit()  # on SQLite: on disk when this returns (db._WalSync)
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()
    ctx.call.id = row[0]
    return True


