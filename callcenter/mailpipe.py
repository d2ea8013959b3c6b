"""The MTA pipe's fast path: `callcenter mail-ingest` appends the raw message to the mail spool with the
database driver alone and exits; a worker ingests it (callcenter/mail/spool.py).

Postfix starts one process per message on this path, so what the process imports is what it costs:
the standard library's sqlite3 (or psycopg for PostgreSQL), no SQLAlchemy, no models, no parser. The
commit of the spool row is the acknowledgement (exit 0); if the database cannot take it (unreachable,
stalled, locked, not migrated), nothing was written and the MTA retries (exit 75).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, urlsplit

if TYPE_CHECKING:
    from .config import Settings

INSERT = ("INSERT INTO mail_spool (mailbox, source, received_at, raw, attempts, next_attempt_at) "
          "VALUES ({p}, {p}, {p}, {p}, 0, {p})")
EX_TEMPFAIL = 75  # sysexits.h: the MTA defers and retries (reference Part B.5)
# How long the pipe waits for a busy SQLite database (another writer) before the MTA is told to retry.
SQLITE_BUSY_SECONDS = 10.0


def run_pipe(settings: Settings, raw: bytes, mailbox: str | None, *, configure_logging: bool = False) -> int:
    """`callcenter mail-ingest`: spool one message and return the exit code for the MTA (0 once it is
    committed, 75 when the database cannot take it). stdout stays quiet; the reason goes to the log
    (`configure_logging`: set up the process's logging first, only then: it costs imports)."""
    import signal

    def give_up(_signum: int, _frame: object) -> None:
        raise TimeoutError("the database did not answer in time")

    # A stalled database must not hold the MTA's delivery agent: whatever blocks, give up in time.
    signal.signal(signal.SIGALRM, give_up)
    signal.setitimer(signal.ITIMER_REAL, settings.db_connect_timeout + settings.db_statement_timeout + 15)
    try:
        spool_message(settings.database_url, raw, (mailbox or settings.mail_from).strip().lower(),
                      connect_timeout=settings.db_connect_timeout, statement_timeout=settings.db_statement_timeout)
        signal.setitimer(signal.ITIMER_REAL, 0)
    except Exception as exc:  # nothing was written: the MTA keeps the mail and retries
        signal.setitimer(signal.ITIMER_REAL, 0)
        import logging

        if configure_logging:
            from .logs import configure

            configure(settings.log_format)
        logging.getLogger("callcenter").error("mail-ingest could not spool the message, the MTA will retry: %s: %s",
                                              type(exc).__name__, exc)
        return EX_TEMPFAIL
    return 0


def spool_message(database_url: str, raw: bytes, mailbox: str, *, source: str = "pipe",
                  now: datetime | None = None, connect_timeout: float = 3.0,
                  statement_timeout: float = 15.0) -> None:
    """Append one message to the spool and commit; raises when the database cannot take it within the
    timeouts (CALLCENTER_DB_CONNECT_TIMEOUT, CALLCENTER_DB_STATEMENT_TIMEOUT)."""
    now = now or datetime.now(UTC)
    if database_url.startswith("sqlite"):
        _spool_sqlite(database_url, raw, mailbox, source, now)
    elif database_url.startswith("postgresql"):
        _spool_postgresql(database_url, raw, mailbox, source, now, connect_timeout, statement_timeout)
    else:
        raise ValueError(f"unsupported database URL scheme: {database_url.split(':', 1)[0]}")


def _spool_sqlite(url: str, raw: bytes, mailbox: str, source: str, now: datetime) -> None:
    import sqlite3

    path = url.split("///", 1)[1] if "///" in url else ""
    if not path or path == ":memory:":
        raise ValueError("the mail spool needs a database file")
    # Stored as the ORM stores UTC times in SQLite: naive, microseconds.
    stamp = now.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    conn = sqlite3.connect(path, timeout=SQLITE_BUSY_SECONDS, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(INSERT.format(p="?"), (mailbox, source, stamp, raw, stamp))
        conn.execute("COMMIT")
    finally:
        conn.close()


def _spool_postgresql(url: str, raw: bytes, mailbox: str, source: str, now: datetime, connect_timeout: float,
                      statement_timeout: float) -> None:
    import psycopg

    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query))
    params.setdefault("connect_timeout", str(max(2, round(connect_timeout))))  # libpq's minimum is 2
    ms = int(statement_timeout * 1000)
    options = f"-c statement_timeout={ms} -c lock_timeout={ms}"
    with psycopg.connect(host=parts.hostname or None, port=parts.port, user=unquote(parts.username or "") or None,
                         password=unquote(parts.password or "") or None, dbname=parts.path.lstrip("/") or None,
                         options=options, **params) as conn:
        conn.execute(INSERT.format(p="%s"), (mailbox, source, now, raw, now))
