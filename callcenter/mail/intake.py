"""One message, one transaction, for every intake path (pipe, spool, IMAP, SMTP, LMTP).

The outcome an MTA needs is one of three (reference B.5/B.6):
- stored: a ticket, an event, a duplicate, or a quarantined message (exit 0, 250);
- transient failure: the database is unreachable, stalled, locked or restarting; nothing was written
  and a later delivery may succeed (exit 75, 451);
- a failure that would happen again on every delivery (a value the database refuses, a bug) is no
  reason to make the MTA retry until it bounces: the message is quarantined with the reason and its
  raw bytes, in a transaction of its own, and counts as stored.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from ..config import Settings
from ..db import session_scope
from ..db_unavailable import database_unavailable
from .ingest import IngestResult, ingest, quarantine

log = logging.getLogger(__name__)


def is_transient(exc: BaseException) -> bool:
    """True when the same message may well be stored by a later attempt: the database is unavailable
    (callcenter/db_unavailable.py), or the machine ran out of a resource for a moment."""
    return database_unavailable(exc) or isinstance(exc, OSError | MemoryError)


def ingest_message(factory: sessionmaker[Session], raw: bytes, *, settings: Settings, now: datetime,
                   mailbox: str | None = None, source: str) -> IngestResult:
    """Store one message; raises only for a transient failure (the caller answers 75 / 451)."""
    from sqlalchemy.exc import IntegrityError

    for attempt in (1, 2):
        try:
            with session_scope(factory) as session:
                return ingest(session, raw, settings=settings, now=now, mailbox=mailbox, source=source)
        except IntegrityError:
            if attempt == 1:
                continue  # most likely a twin delivery committed first: the retry finds it a duplicate
            failure = "the database refused the message twice (integrity)"
            log.exception("mail from %s could not be stored; quarantined", source)
        except Exception as exc:
            if is_transient(exc):
                raise
            failure = f"it could not be stored: {type(exc).__name__}: {exc}"
            log.exception("mail from %s could not be stored; quarantined", source)
        break
    with session_scope(factory) as session:
        return quarantine(session, raw, failure[:2000], mailbox=(mailbox or settings.mail_from).strip().lower(),
                          source=source, now=now)
