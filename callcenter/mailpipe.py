"""The MTA pipe's fast path: `callcenter mail-ingest` appends the raw message to the mail spool with the
database driver alone and exits; a worker ingests it (callcenter/mail/spool.py).

Postfix starts one process per message on this path, so what the process imports is what it costs:
the standard library's sqlite3 (or psycopg for PostgreSQL), no SQLAlchemy, no models, no parser. The
commit of the spool row is the acknowledgement (exit 0); if the database cannot take it (unreachable,
stalled, locked, not migrated), nothing was written and the MTA retries (exit 75).
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qsl, unquote, urlsplit

INSERT = ("INSERT INTO mail_spool (mailbox, source, received_at, raw, attempts, next_attempt_at) "
          "VALUES ({p}, {p}, {p}, {p}, 0, {p})")
# How long the pipe waits for a busy or unreachable database before the MTA is told to retry.
CONNECT_TIMEOUT_SECONDS = 10
STATEMENT_TIMEOUT_MS = 10_000


def spool_message(database_url: str, raw: bytes, mailbox: str, *, source: str = "pipe",
                  now: datetime | None = None) -> None:
    """Append one message to the spool and commit; raises when the database cannot take it."""
    now = now or datetime.now(UTC)
    if database_url.startswith("sqlite"):
        _spool_sqlite(database_url, raw, mailbox, source, now)
    elif database_url.startswith("postgresql"):
        _spool_postgresql(database_url, raw, mailbox, source, now)
    else:
        raise ValueError(f"unsupported database URL scheme: {database_url.split(':', 1)[0]}")


def _spool_sqlite(url: str, raw: bytes, mailbox: str, source: str, now: datetime) -> None:
    import sqlite3

    path = url.split("///", 1)[1] if "///" in url else ""
    if not path or path == ":memory:":
        raise ValueError("the mail spool needs a database file")
    # Stored as the ORM stores UTC times in SQLite: naive, microseconds.
    stamp = now.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    conn = sqlite3.connect(path, timeout=CONNECT_TIMEOUT_SECONDS, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(INSERT.format(p="?"), (mailbox, source, stamp, raw, stamp))
        conn.execute("COMMIT")
    finally:
        conn.close()


def _spool_postgresql(url: str, raw: bytes, mailbox: str, source: str, now: datetime) -> None:
    import psycopg

    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query))
    params.setdefault("connect_timeout", str(CONNECT_TIMEOUT_SECONDS))
    options = f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c lock_timeout={STATEMENT_TIMEOUT_MS}"
    with psycopg.connect(host=parts.hostname or None, port=parts.port, user=unquote(parts.username or "") or None,
                         password=unquote(parts.password or "") or None, dbname=parts.path.lstrip("/") or None,
                         options=options, **params) as conn:
        conn.execute(INSERT.format(p="%s"), (mailbox, source, now, raw, now))
