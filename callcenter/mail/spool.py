"""Ingesting what the MTA pipe spooled (callcenter/mailpipe.py): each row in one transaction that
creates the ticket (or event, duplicate, quarantine) and deletes the row, so a row is ingested once
however many workers drain the spool.

A transient failure (the database) leaves the row with its attempt counted and a later time; a
failure that would repeat on every attempt quarantines the message with its reason and raw bytes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from ..config import Settings
from ..db import session_scope
from ..models import MailSpool
from ..scheduler import periodic
from .ingest import ingest, quarantine
from .intake import is_transient

log = logging.getLogger(__name__)

BACKOFF = (timedelta(seconds=10), timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10))


@dataclass
class DrainResult:
    ingested: int = 0
    quarantined: int = 0
    deferred: int = 0


def _claim(session: Session, now: datetime) -> MailSpool | None:
    query = select(MailSpool).where(MailSpool.next_attempt_at <= now).order_by(MailSpool.id).limit(1)
    if session.get_bind().dialect.name == "postgresql":
        # Workers take different rows; the lock is held until this row's transaction ends.
        query = query.with_for_update(skip_locked=True)
    return session.scalar(query)


def _take(session: Session, row_id: int) -> bool:
    """Delete the row inside the ingesting transaction: if another worker got there first, nothing
    is deleted and this transaction is abandoned."""
    return session.execute(delete(MailSpool).where(MailSpool.id == row_id)).rowcount == 1


def drain_spool(factory: sessionmaker[Session], settings: Settings, now: datetime, limit: int = 500) -> DrainResult:
    result = DrainResult()
    for _ in range(limit):
        claimed = None
        try:
            with session_scope(factory) as session:
                row = _claim(session, now)
                if row is None:
                    return result
                claimed = row.id, row.raw, row.mailbox, row.source, row.received_at, row.attempts
                if not _take(session, row.id):
                    continue
                outcome = ingest(session, row.raw, settings=settings, now=row.received_at, mailbox=row.mailbox,
                                 source=row.source)
            result.ingested += outcome.outcome != "quarantined"
            result.quarantined += outcome.outcome == "quarantined"
        except Exception as exc:
            if claimed is None:
                raise  # the spool itself cannot be read: the database is down, the next tick tries again
            row_id, raw, mailbox, source, received, attempts = claimed
            if is_transient(exc):
                _defer(factory, row_id, attempts, exc, now)
                result.deferred += 1
                log.warning("spooled mail %s not ingested yet (attempt %s): %s: %s", row_id, attempts + 1,
                            type(exc).__name__, exc)
                return result  # the database is in trouble: leave the rest for the next tick
            log.exception("spooled mail %s could not be stored; quarantined", row_id)
            with session_scope(factory) as session:
                if _take(session, row_id):
                    quarantine(session, raw, f"it could not be stored: {type(exc).__name__}: {exc}"[:2000],
                               mailbox=mailbox, source=source, now=received)
            result.quarantined += 1
    return result


def _defer(factory: sessionmaker[Session], row_id: int, attempts: int, exc: BaseException, now: datetime) -> None:
    try:
        with session_scope(factory) as session:
            session.execute(update(MailSpool).where(MailSpool.id == row_id).values(
                attempts=attempts + 1, next_attempt_at=now + BACKOFF[min(attempts, len(BACKOFF) - 1)],
                last_error=f"{type(exc).__name__}: {exc}"[:2000]))
    except Exception:  # the database is still down: the row stays due and is tried again next tick
        log.debug("could not count the attempt on spooled mail %s", row_id, exc_info=True)


@periodic("mail-spool", seconds=1)
def spool_job(factory: sessionmaker[Session], settings: Settings, now: datetime) -> None:
    drain_spool(factory, settings, now)
