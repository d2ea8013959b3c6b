"""Set-based writes for the hot paths (a burst of escalations): many rows in one statement.

The ORM's unit of work costs about a millisecond of CPU per row it flushes; a burst of 6,000
escalations writes seven rows each. These helpers insert a whole batch with one executemany
(SQLAlchemy's "insertmanyvalues": one multi-row INSERT per 1,000 rows on SQLite and psycopg),
and `insert_new` makes creating a keyed row idempotent in the statement itself
(`INSERT ... ON CONFLICT DO NOTHING`) instead of a look-up and a savepoint per row.

Core inserts bypass the ORM's before-flush checks (callcenter/validation.py): callers pass only
values they built themselves from stored rows, never raw input.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Column, Table, TextClause, bindparam, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_rows(session: Session, model: Any, rows: Sequence[dict], *returning: Column) -> list:
    """Insert `rows` in one executemany; with `returning` columns, their values in the rows' order."""
    if not rows:
        return []
    table = model.__table__
    if not returning:
        session.execute(insert(table), list(rows))
        return []
    stmt = insert(table).returning(*returning, sort_by_parameter_order=True)
    return list(session.execute(stmt, list(rows)))


def insert_new(session: Session, model: Any, rows: Sequence[dict], key: str) -> dict[Any, int]:
    """Insert the rows whose unique `key` column is not taken yet; {key: id} for every row asked for,
    new or already there (created before, or by a concurrent transaction that committed first)."""
    if not rows:
        return {}
    table = model.__table__
    dialect = session.get_bind().dialect.name
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    key_column = table.c[key]
    stmt = make(table).on_conflict_do_nothing(index_elements=[key_column]).returning(key_column, table.c.id)
    ids = {k: i for k, i in session.execute(stmt, list(rows))}
    missing = [row[key] for row in rows if row[key] not in ids]
    if missing:
        ids.update({k: i for k, i in session.execute(select(key_column, table.c.id).where(key_column.in_(missing)))})
    return ids


def insert_one_new(session: Session, model: Any, values: dict, key: str) -> int | None:
    """Insert one row unless its unique `key` column is taken (by this transaction or a concurrent one
    that committed first): the new row's id, or None. One statement instead of a look-up and an INSERT
    in a savepoint. Runs on the session's connection: the caller makes sure no pending object of the
    session holds the same key (the ORM's autoflush is not run)."""
    table = model.__table__
    missing = [c.name for c in table.columns
               if c.name not in values and c.default is not None and not c.primary_key]
    if missing:  # a text INSERT does not apply the columns' Python defaults
        raise ValueError(f"insert_one_new: no value for {', '.join(missing)} of {table.name}")
    return session.connection().execute(_insert_or_nothing(table, tuple(values), key), values).scalar()


@lru_cache(maxsize=32)
def _insert_or_nothing(table: Table, columns: tuple[str, ...], key: str) -> TextClause:
    """INSERT .. ON CONFLICT (key) DO NOTHING RETURNING id, which both our dialects speak, as a text
    clause with the columns' types on its binds (JSON, UTC datetimes): SQLAlchemy compiles the dialects'
    own on_conflict constructs anew for every execution (they have no cache key); a text clause once."""
    # Column names quoted: some are words the databases reserve (timers."key").
    names = ", ".join(f'"{c}"' for c in columns)
    binds = ", ".join(f":{c}" for c in columns)
    sql = f'INSERT INTO {table.name} ({names}) VALUES ({binds}) ON CONFLICT ("{key}") DO NOTHING RETURNING id'
    return text(sql).bindparams(*(bindparam(c, type_=table.c[c].type) for c in columns))
