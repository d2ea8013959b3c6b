"""Engine and session factory. One session per request, job or CLI command.

Nothing waits for the database forever: connecting, each statement and a pool checkout have timeouts
(`DbTimeouts`), and a unit of work the caller cannot wait for (a voice turn) runs under a `deadline`
after which every round trip fails at once and nothing is committed.
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
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


class _WalSync:
    """Group commit for a WAL database: the commit itself writes the WAL without waiting for the disk
    (synchronous=NORMAL) and releases the write lock; the committer then waits for an fdatasync of the
    WAL file that started after its commit. Concurrent committers share one, so N webhooks that commit
    together wait for one disk flush instead of N flushes in a row behind the write lock. Every commit
    is on disk before commit() returns, as with synchronous=FULL: a power loss loses nothing that was
    acknowledged (WAL frames carry checksums, so recovery keeps a prefix of whole transactions)."""

    def __init__(self, database_path: str) -> None:
        self.wal_path = database_path + "-wal"
        self.directory = os.path.dirname(database_path) or "."
        self._cond = threading.Condition()
        self._started = 0  # syncs begun
        self._done = 0  # the last sync that finished (each one covers every commit before its start)
        self._running = False
        self._directory_synced = False

    def sync(self) -> None:
        """Return once every commit this thread made so far is on disk."""
        with self._cond:
            needed = self._started + 1  # one already running may have started before this commit
            while self._done < needed:
                if self._running:
                    self._cond.wait()
                    continue
                self._running = True
                self._started += 1
                number = self._started
                self._cond.release()
                try:
                    self._flush()
                finally:
                    self._cond.acquire()
                    self._running = False
                    self._cond.notify_all()
                self._done = max(self._done, number)

    def _flush(self) -> None:
        try:
            fd = os.open(self.wal_path, os.O_RDONLY)
        except FileNotFoundError:
            return  # checkpointed into the database and removed: SQLite synced the database file first
        try:
            os.fdatasync(fd)
        finally:
            os.close(fd)
        if not self._directory_synced:
            # The WAL file's directory entry, once (SQLite does the same for a journal it creates).
            fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            self._directory_synced = True


_wal_syncs: dict[str, _WalSync] = {}


def _wal_sync_for(path: str) -> _WalSync:
    key = str(Path(path).resolve())
    with _write_locks_guard:
        return _wal_syncs.setdefault(key, _WalSync(key))


class _WriteLockedConnection(sqlite3.Connection):
    """A SQLite connection that holds its process's write lock from its first write to commit/rollback."""

    write_lock: threading.Lock | None = None
    holds_write_lock = False
    wal_sync: _WalSync | None = None  # group commit (synchronous=NORMAL plus our own WAL flush)

    def take_write_lock(self) -> None:
        lock = self.write_lock
        if lock is None or self.holds_write_lock:
            return
        if _lock_owners.get(id(lock)) == threading.get_ident():
            return  # this thread's other connection writes: leave it to SQLite, never self-deadlock
        left = remaining()
        if lock.acquire(timeout=WRITE_LOCK_TIMEOUT if left is None else max(0.0, min(left, WRITE_LOCK_TIMEOUT))):
            _lock_owners[id(lock)] = threading.get_ident()
            self.holds_write_lock = True
        elif left is not None and remaining() <= 0:
            raise sqlite3.OperationalError("deadline passed waiting for the database's write lock")
        # on timeout, go on without it: SQLite's busy_timeout decides as it did before

    def _release_write_lock(self) -> None:
        if self.holds_write_lock:
            self.holds_write_lock = False
            _lock_owners.pop(id(self.write_lock), None)
            self.write_lock.release()

    def commit(self) -> None:
        wrote = self.in_transaction  # pysqlite opens a transaction only to write
        try:
            if past_deadline():
                # The caller was already told the turn failed: nothing of it may be committed.
                raise sqlite3.OperationalError("deadline passed before commit")
            super().commit()
        finally:
            self._release_write_lock()
        if wrote and self.wal_sync is not None:
            self.wal_sync.sync()  # outside the write lock: the next writer goes on meanwhile

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


# ---------------------------------------------------------------------------- deadlines and timeouts

_deadline: ContextVar[float | None] = ContextVar("callcenter_db_deadline", default=None)


@contextmanager
def deadline(seconds: float | None = None, *, at: float | None = None) -> Iterator[float | None]:
    """Every database round trip in this context must finish `seconds` from now (or by the monotonic
    time `at`): later ones fail at once with an OperationalError, and a transaction whose deadline
    passed is never committed. Nested deadlines keep the earlier one. Threads do not inherit it:
    work handed to another thread passes `at`."""
    if at is None and seconds is not None and seconds > 0:
        at = time.monotonic() + seconds
    outer = _deadline.get()
    if at is None or (outer is not None and outer <= at):
        yield outer
        return
    token = _deadline.set(at)
    try:
        yield at
    finally:
        _deadline.reset(token)


def remaining() -> float | None:
    """Seconds left before this context's deadline (negative once passed); None without one."""
    at = _deadline.get()
    return None if at is None else at - time.monotonic()


def past_deadline() -> bool:
    left = remaining()
    return left is not None and left <= 0


@dataclass(frozen=True)
class DbTimeouts:
    """Seconds. `connect`: opening a PostgreSQL connection (libpq's minimum is 2). `statement`: PostgreSQL's
    statement_timeout, and every round trip also gives up on the client side one second later, so a
    server that accepts and never answers costs a bounded wait (0: no limit, for migrations). `pool`:
    waiting for a free pooled connection."""

    connect: float = 3.0
    statement: float = 15.0
    pool: float = 3.0

    @classmethod
    def from_settings(cls, settings: Any) -> DbTimeouts:
        return cls(connect=settings.db_connect_timeout, statement=settings.db_statement_timeout,
                   pool=settings.db_pool_timeout)


_bounded_connection_class: type | None = None


def _bounded_connection() -> type:
    """psycopg's Connection, with every wait for the server bounded by the deadline and the round-trip limit."""
    global _bounded_connection_class
    if _bounded_connection_class is not None:
        return _bounded_connection_class
    import psycopg
    from psycopg import errors

    class BoundedConnection(psycopg.Connection):
        round_trip_limit: float | None = None

        def wait(self, gen, interval=None, timeout=None):  # noqa: ANN001, ANN201
            limit = self.round_trip_limit
            left = remaining()
            if left is not None:
                limit = left if limit is None else min(limit, left)
            if limit is not None:
                if limit <= 0:
                    gen.close()
                    self._give_up("the deadline passed")
                timeout = limit if timeout is None else min(timeout, limit)
            try:
                if interval is None:
                    return super().wait(gen, timeout=timeout)
                return super().wait(gen, interval, timeout)
            except errors._WaitTimeout:
                self._give_up(f"no answer within {timeout:.1f} s")

        def _give_up(self, why: str) -> None:
            # Mid-protocol the connection cannot be used again: close it, so that the pool discards it
            # (SQLAlchemy sees a closed connection as a disconnect) and the server rolls back.
            self.close()
            raise psycopg.OperationalError(f"database round trip abandoned: {why}")

    _bounded_connection_class = BoundedConnection
    return BoundedConnection


# libpq (and psycopg) wait at least this long for a new connection, whatever connect_timeout says.
LIBPQ_CONNECT_FLOOR = 2.0


def _connect_within(seconds: float, connect: Callable[[], Any]) -> Any:
    """`connect()` given at most `seconds`, shorter than libpq's floor: a turn with less than 2 s left
    must not wait 2 s for a server that accepts and never answers (the caller hears silence). The attempt
    runs on a thread of its own; one abandoned here closes its connection if it ever comes."""
    import psycopg

    lock, finished, box = threading.Lock(), threading.Event(), {}

    def attempt() -> None:
        try:
            found, error = connect(), None
        except Exception as exc:  # handed to the waiting thread
            found, error = None, exc
        with lock:
            box.update(connection=found, error=error)
            finished.set()
            abandoned = box.get("abandoned", False)
        if abandoned and found is not None:
            found.close()

    threading.Thread(target=attempt, name="db-connect", daemon=True).start()
    finished.wait(max(0.0, seconds))
    with lock:
        if not finished.is_set():
            box["abandoned"] = True
            raise psycopg.OperationalError("deadline passed while connecting")
    if box["error"] is not None:
        raise box["error"]
    return box["connection"]


def _postgres_engine(url: str, timeouts: DbTimeouts, kwargs: dict[str, Any]) -> Engine:
    if "poolclass" not in kwargs:
        kwargs.update(pool_size=10, max_overflow=20)
        kwargs.setdefault("pool_timeout", timeouts.pool)
    connect_args = dict(kwargs.pop("connect_args", None) or {})
    # A lock wait that outlives LOCK_TIMEOUT_MS is a bug (locks are taken in one order, see
    # paging/engine.py): fail it instead of holding a webhook past Twilio's 15 s.
    options = [f"-c lock_timeout={LOCK_TIMEOUT_MS}"]
    if timeouts.statement > 0:
        options.append(f"-c statement_timeout={int(timeouts.statement * 1000)}")
    connect_args["options"] = " ".join([connect_args.get("options", ""), *options]).strip()
    engine = create_engine(url, connect_args=connect_args, **kwargs)
    _check_on_checkout(engine)
    bounded = _bounded_connection()
    limit = timeouts.statement + 1.0 if timeouts.statement > 0 else None

    @event.listens_for(engine, "do_connect")
    def _connect(dialect, conn_rec, cargs, cparams):  # noqa: ANN001, ANN202
        import psycopg

        left = remaining()
        if left is not None and left <= 0:
            raise psycopg.OperationalError("deadline passed before connecting")
        wanted = float(cparams.get("connect_timeout") or timeouts.connect)
        cparams["connect_timeout"] = max(1, math.ceil(wanted if left is None else min(wanted, left)))
        if left is not None and left < LIBPQ_CONNECT_FLOOR:
            connection = _connect_within(left, lambda: bounded.connect(*cargs, **cparams))
        else:
            connection = bounded.connect(*cargs, **cparams)
        connection.round_trip_limit = limit
        return connection

    return engine


# A pooled connection idle for longer than this is pinged before use (a firewall or NAT may have dropped it
# without a word); a busier one only when its socket says the server spoke or hung up.
IDLE_PING_SECONDS = 10.0


def _server_spoke(dbapi_connection: Any) -> bool:
    """True when an idle connection's socket has something to read: between transactions PostgreSQL
    sends nothing unasked except to end the session (a restart, pg_terminate_backend, an idle timeout:
    an error, then EOF), or a notice. No round trip."""
    import select

    try:
        poller = select.poll()  # not select(): a busy process's descriptors go past FD_SETSIZE (1024)
        poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLPRI)
        return bool(poller.poll(0))
    except (OSError, ValueError):  # closed: no descriptor
        return True


def _check_on_checkout(engine: Engine) -> None:
    """`pool_pre_ping` without its round trip on every checkout: a webhook's transaction is BEGIN, one
    INSERT and COMMIT, and a ping before them was a fourth round trip, each a wait for a server process
    on a busy machine. A connection is pinged only when it is not known to be good: it sat in the pool
    longer than IDLE_PING_SECONDS, or the server sent something while it was idle. A failed ping does
    what pre-ping does: every pooled connection from before is discarded and a new one is opened."""
    from sqlalchemy import exc

    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _idle_from(dbapi_connection, record):  # noqa: ANN001, ANN202
        if dbapi_connection is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_unsure(dbapi_connection, record, _proxy):  # noqa: ANN001, ANN202
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None:
            return  # just connected
        if time.monotonic() - idle_since < IDLE_PING_SECONDS and not _server_spoke(dbapi_connection):
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as err:
            if dialect.is_disconnect(err, dbapi_connection, None) or dbapi_connection.closed:
                raise exc.InvalidatePoolError(f"the database connection was lost: {err}") from err
            raise


class HealthProbe:
    """`SELECT 1` with an answer within `timeout` seconds whatever the database does: a stalled server
    leaves one probe thread waiting (bounded by its own deadline), and every check meanwhile joins it."""

    def __init__(self, engine: Engine, timeout: float = 0.8) -> None:
        self.engine = engine
        self.timeout = timeout
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self._error: str | None = None

    def _probe(self, done: threading.Event) -> None:
        error = None
        try:
            with deadline(max(5.0, self.timeout)), self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # a health check reports, it does not raise
            error = type(exc).__name__
        self._error = error
        done.set()

    def check(self) -> str | None:
        """None when the database answered; otherwise what went wrong ("timeout" or an exception name)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._done = threading.Event()
                self._thread = threading.Thread(target=self._probe, args=(self._done,), daemon=True,
                                                name="db-health")
                self._thread.start()
            done = self._done
        if not done.wait(self.timeout):
            return "timeout"
        return self._error


def begin_write(session: Session) -> None:
    """SQLite: take the database's write lock now (this process's lock, then BEGIN IMMEDIATE), so that
    what the transaction reads next cannot change before it commits: the SQLite counterpart of
    PostgreSQL's SELECT ... FOR UPDATE. Elsewhere it does nothing."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    raw = connection.connection.dbapi_connection
    if isinstance(raw, _WriteLockedConnection):
        raw.take_write_lock()
    if not raw.in_transaction:
        raw.execute("BEGIN IMMEDIATE")


def make_engine(url: str, *, timeouts: DbTimeouts | None = None, **kwargs: Any) -> Engine:
    timeouts = timeouts or DbTimeouts()
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        in_memory = not path or path == ":memory:" or path.startswith("file:")
        if not in_memory:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"timeout": 30, "check_same_thread": False}
        if not in_memory:
            connect_args["factory"] = _WriteLockedConnection
            if "poolclass" not in kwargs:
                # A file database gets a QueuePool: as many connections as PostgreSQL's (the web server's
                # threads, the AGI turns, the ticker), so that a bounded checkout wait is not a bottleneck.
                kwargs.setdefault("pool_size", 10)
                kwargs.setdefault("max_overflow", 20)
                kwargs.setdefault("pool_timeout", timeouts.pool)
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        write_lock = None if in_memory else _write_lock_for(path)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # noqa: ANN001
            # WAL lets the web, AGI and worker threads read while one writes.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            journal = cursor.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            cursor.execute("PRAGMA busy_timeout=30000")
            if isinstance(dbapi_connection, _WriteLockedConnection):
                dbapi_connection.write_lock = write_lock
                # The file SQLite opened (the URL may carry a query): its WAL is what must reach the disk.
                main_file = next((row[2] for row in cursor.execute("PRAGMA database_list") if row[1] == "main"), "")
                if str(journal).lower() == "wal" and main_file:
                    # Durable as synchronous=FULL, with the disk flush after the write lock (see _WalSync).
                    cursor.execute("PRAGMA synchronous=NORMAL")
                    dbapi_connection.wal_sync = _wal_sync_for(main_file)
            cursor.close()

        @event.listens_for(engine, "before_cursor_execute")
        def _take_write_lock(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
            dbapi_connection = cursor.connection
            if past_deadline():
                raise sqlite3.OperationalError("deadline passed")
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
    return _postgres_engine(url, timeouts, kwargs)


def make_session_factory(engine: Engine, settings: object | None = None) -> sessionmaker[Session]:
    """Sessions carry the process settings in `session.info["settings"]`: domain-event subscribers
    (mail ids, distribution) get only a session, yet need the installation's settings. Every session
    dispatches its transaction's domain events after it commits (callcenter/unit_of_work.py)."""
    from . import directory  # noqa: F401  (its flush listeners keep the directory version for every session)
    from .unit_of_work import install
    from .validation import refuse_unstorable

    factory = sessionmaker(engine, expire_on_commit=False, info={"settings": settings} if settings else {})
    event.listen(factory, "before_flush", refuse_unstorable)
    install(factory)
    return factory


def session_scope(factory: sessionmaker[Session]) -> AbstractContextManager[Session]:
    """The unit of work (callcenter.unit_of_work.unit_of_work), under the name most callers import."""
    from .unit_of_work import unit_of_work

    return unit_of_work(factory)
