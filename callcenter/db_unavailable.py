"""What "the database is unavailable" means, once for every adapter.

The database refused the connection, did not answer within its deadline, lost the connection or is
being restarted or upgraded; nothing of the unit of work was committed, and the same request may well
succeed in a moment. Each adapter says so in its own words: the console and the API answer 503 with
Retry-After (web/params.py), the on-call webhooks tell the engineer the reply was not recorded
(webhooks/twilio_paging.py), mail intake answers "try again later" (mail/intake.py). A definition kept
in each of them drifted: a connection closed under us (InterfaceError) was a 500 on the console.
"""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

# OperationalError: connection refused or lost, statement and lock timeouts, serialisation failures and
# deadlocks (psycopg), "database is locked" and a missing table before `db upgrade` (SQLite).
# InterfaceError: a connection the driver already gave up on (closed under us).
# TimeoutError: no connection from the pool in time.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (sa_exc.OperationalError, sa_exc.InterfaceError,
                                                     sa_exc.TimeoutError)

# Seconds a client is asked to wait before trying again (the console polls on this beat anyway).
RETRY_AFTER_SECONDS = 5


def database_unavailable(exc: BaseException) -> bool:
    """True when `exc` says the database could not take the work, not that the work was wrong."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True  # SQLAlchemy saw the connection die under this statement, whatever the DBAPI class
    return isinstance(exc, DATABASE_UNAVAILABLE)
