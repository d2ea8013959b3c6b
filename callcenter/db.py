"""Engine and session factory. One session per request, job or CLI command."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

# SQLite has one writer at a time. Its busy handler makes waiting writers poll with sleeps of up to
# 100 ms, so under a threaded server a few concurrent writers turn into second-long tails. Writers
# of one process queue on a lock instead (woken the moment the holder commits); busy_timeout still
# arbitrates between processes. Reads never take the lock (WAL readers do not block).
WRITE_LOCK_TIMEOUT = 30.0
_WRITE_STARTERS = ("INSERT", "UPDATE", "DELETE", "REPLACE", "SAVEPOINT")
_write_locks: dict[str, threading.Lock] = {}
_write_locks_guard = threading.Lock()
_lock_owners: dict[int, int] = {}  # id(lock) -> thread ident of the holder
LOCK_TIMEOUT_MS = 5000  # PostgreSQL lock_timeout of every connection


def _write_lock_for(path: str) -> threading.Lock:
    key = str(Path(path).resolve())
    with _write_locks_guard:
        return _write_locks.setdefault(key, threading.Lock())


class _WriteLockedConnection(sqlite3.Connection):
    """A SQLite connection that holds its process's write lock from its first write to commit/rollback."""

    write_lock: threading.Lock | None = None
    holds_write_lock = False

    def take_write_lock(self) -> None:
        lock = self.write_lock
        if lock is None or self.holds_write_lock:
            return
        if _lock_owners.get(id(lock)) == threading.get_ident():
            return  # this thread's other connection writes: leave it to SQLite, never self-deadlock
        if lock.acquire(timeout=WRITE_LOCK_TIMEOUT):
            _lock_owners[id(lock)] = threading.get_ident()
            self.holds_write_lock = True
        # on timeout, go on without it: SQLite's busy_timeout decides as it did before

    def _release_write_lock(self) -> None:
        if self.holds_write_lock:
            self.holds_write_lock = False
            _lock_owners.pop(id(self.write_lock), None)
            self.write_lock.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._release_write_lock()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release_write_lock()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release_write_lock()


def make_engine(url: str, **kwargs: object) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        in_memory = not path or path == ":memory:" or path.startswith("file:")
        if not in_memory:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"timeout": 30, "check_same_thread": False}
        if not in_memory:
            connect_args["factory"] = _WriteLockedConnection
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        write_lock = None if in_memory else _write_lock_for(path)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # noqa: ANN001
            # WAL lets the web, AGI and worker threads read while one writes.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            if isinstance(dbapi_connection, _WriteLockedConnection):
                dbapi_connection.write_lock = write_lock

        @event.listens_for(engine, "before_cursor_execute")
        def _take_write_lock(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
            dbapi_connection = cursor.connection
            head = statement.lstrip()[:9].upper()
            if (isinstance(dbapi_connection, _WriteLockedConnection) and not dbapi_connection.holds_write_lock
                    and head.startswith(_WRITE_STARTERS)):
                dbapi_connection.take_write_lock()
            if head.startswith("SAVEPOINT") and not dbapi_connection.in_transaction:
                # pysqlite opens transactions only before INSERT/UPDATE/DELETE. A SAVEPOINT outside one
                # would become the outermost transaction and its RELEASE a COMMIT: the session's later
                # work would no longer be atomic with it, and each commit costs its own fsync.
                cursor.execute("BEGIN")

        return engine
    if "poolclass" not in kwargs:
        kwargs.update(pool_size=10, max_overflow=20)
    if url.startswith("postgresql"):
        # A lock wait that outlives this is a bug (locks are taken in one order, see paging/engine.py):
        # fail it instead of holding a webhook past Twilio's 15 s.
        connect_args = dict(kwargs.pop("connect_args", None) or {})
        connect_args["options"] = f"{connect_args.get('options', '')} -c lock_timeout={LOCK_TIMEOUT_MS}".strip()
        kwargs["connect_args"] = connect_args
    return create_engine(url, pool_pre_ping=True, **kwargs)


def make_session_factory(engine: Engine, settings: object | None = None) -> sessionmaker[Session]:
    """Sessions carry the process settings in `session.info["settings"]`: domain-event subscribers
    (mail ids, distribution) get only a session, yet need the installation's settings."""
    from . import directory  # noqa: F401  (its flush listeners keep the directory version for every session)

    return sessionmaker(engine, expire_on_commit=False, info={"settings": settings} if settings else {})


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
