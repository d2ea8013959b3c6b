"""A new call's row, written in one statement at the end of its first turn (callcenter.calls decides it).

This is the one statement every incoming call runs before its first prompt, so it goes to the driver
directly: SQLAlchemy could not cache the dialects' insert() constructs (it compiled one per call), and
its per-statement machinery was a fifth of the webhook's time. `write_new_call` goes further for a
caller the directory cache knows: a pooled connection and a transaction of its own, no ORM session.
"""

from __future__ import annotations

import contextlib
import re
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
    """INSERT .. ON CONFLICT DO NOTHING RETURNING id for a new call, in the driver's own terms (see the
    module's docstring for why). Both dialects we run on speak ON CONFLICT and RETURNING; anything else
    takes the ORM path."""
    style = _PLACEHOLDERS.get(dialect.paramstyle)
    if dialect.name not in ("sqlite", "postgresql") or style is None:
        return None
    sql = (f"INSERT INTO {Call.__table__.name} ({', '.join(columns)}) "
           f"VALUES ({', '.join(style.format(c) for c in columns)}) "
           f"ON CONFLICT (provider_call_id) DO NOTHING "
           f"RETURNING id, (SELECT version FROM directory_version WHERE id = 1)")
    return _statement(sql, dialect, columns)


# The DBAPI paramstyles' placeholders; "{}" takes the column's name for the named styles.
_PLACEHOLDERS = {"qmark": "?", "format": "%s", "named": ":{}", "pyformat": "%({})s"}


def _statement(sql: str, dialect: Dialect, columns: tuple[str, ...]) -> _CallInsert:
    table = Call.__table__
    return _CallInsert(sql, dialect.paramstyle in ("qmark", "format"),
                       tuple((c, table.c[c].type._cached_bind_processor(dialect)) for c in columns))


_VERSION_PARAM = "assumed_directory_version"


def _cast_type(column: Any, dialect: Dialect) -> str:
    # No length: an explicit CAST to varchar(n) would cut an overlong value where the INSERT refuses it.
    return re.sub(r"^(VARCHAR|CHARACTER VARYING)\(\d+\)$", r"\1", column.type.compile(dialect=dialect))


@lru_cache(maxsize=16)
def _checked_call_insert(dialect: Dialect, columns: tuple[str, ...]) -> _CallInsert | None:
    """PostgreSQL, for `write_new_call`: the row of `_call_insert`, written only while the directory is
    at the version passed last, in one statement that needs no transaction around it (autocommit: one
    round trip instead of BEGIN, INSERT and COMMIT). Each value is cast to its column's type: unlike
    VALUES, an INSERT ... SELECT does not take its parameters' types from the columns."""
    style = _PLACEHOLDERS.get(dialect.paramstyle)
    if dialect.name != "postgresql" or style is None:
        return None
    table = Call.__table__
    casts = ", ".join(f"CAST({style.format(c)} AS {_cast_type(table.c[c], dialect)})" for c in columns)
    assumed = f"CAST({style.format(_VERSION_PARAM)} AS BIGINT)"
    sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT {casts} "
           f"WHERE (SELECT version FROM directory_version WHERE id = 1) = {assumed} "
           f"ON CONFLICT (provider_call_id) DO NOTHING RETURNING id")
    return _statement(sql, dialect, columns)


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


def _execute_insert(raw: Any, statement: _CallInsert, values: dict[str, Any],
                    *extra: tuple[str, Any]) -> tuple[Any, ...] | None:
    """The INSERT on a DBAPI connection: its RETURNING row, or None when nothing was inserted."""
    take_write_lock = getattr(raw, "take_write_lock", None)
    if take_write_lock is not None:
        take_write_lock()  # what db.py's cursor hook does for statements that go through SQLAlchemy
    converted = [(name, bind(values[name]) if bind else values[name]) for name, bind in statement.binds]
    converted.extend(extra)
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
    work (`FlowEngine.start`), which decides on the existing row or identifies the caller afresh.
    PostgreSQL: one statement in autocommit, the version checked in it (`_checked_call_insert`)."""
    values = _insert_values(ctx.call)
    checked = _checked_call_insert(bind.dialect, tuple(values))
    statement = _call_insert(bind.dialect, tuple(values))
    if statement is None or ctx.assumed_directory_version is None:
        return False
    raw = bind.raw_connection()
    try:
        if checked is not None:
            row = _autocommit_insert(raw.dbapi_connection, checked, values, ctx.assumed_directory_version)
            if row is None:
                return False
        else:
            row = _execute_insert(raw.dbapi_connection, statement, values)
            if row is None or row[1] != ctx.assumed_directory_version:
                raw.rollback()
                return False
            raw.commit()  # on SQLite: on disk when this returns (db._WalSync)
    except BaseException:
        with contextlib.suppress(Exception):  # a connection abandoned mid-round-trip is closed already
            raw.rollback()
        raise
    finally:
        raw.close()
    ctx.call.id = row[0]
    return True


def _autocommit_insert(raw: Any, statement: _CallInsert, values: dict[str, Any], version: int) -> tuple | None:
    # Committed by the server as it answers; the pooled connection goes back to transactions after.
    raw.autocommit = True
    try:
        return _execute_insert(raw, statement, values, (_VERSION_PARAM, version))
    finally:
        if not raw.closed:  # a round trip abandoned at the deadline closes it (db.BoundedConnection)
            raw.autocommit = False


