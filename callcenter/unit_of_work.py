"""The unit of work: one transaction per web request, webhook, voice turn, job or CLI command, and
the after-commit dispatch of domain events.

- `unit_of_work(factory)` commits on success and rolls back on any error; `run(factory, work)` also
  retries work that lost a race the database resolves by aborting a transaction (a PostgreSQL deadlock
  or serialisation failure, SQLite's "database is locked"), a bounded number of times and only while
  the caller's `db.deadline` allows: the work must be re-runnable (it reads what it acts on).
- A unit of work may instead run its handlers inside its own transaction, each in a savepoint
  (`dispatch_in_transaction`, mail ingestion does): same guarantees, one transaction instead of 1 + n.
- Every session made by `db.make_session_factory` dispatches, right after it commits, the durable
  `domain_events` rows its transaction wrote (`events.publish`), however it was committed. Each row runs
  its after-commit handler in a transaction of its own, which also marks the row done, so the effect
  happens once or not at all; a failure is logged and kept (attempts, reason, next attempt) and never
  touches the committed change. `dispatch_due` (the worker's periodic job) runs what failed or was never
  dispatched (the process died between commit and dispatch). Rows are taken with SELECT ... FOR UPDATE
  SKIP LOCKED (SQLite: the write lock), so concurrent dispatchers run each row once.
"""

from __future__ import annotations

import functools
import logging
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import delete, inspect, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from . import events
from .config import Settings
from .db import begin_write, past_deadline, remaining
from .models import DomainEvent, DomainEventState
from .outbox import backoff
from .scheduler import periodic

log = logging.getLogger(__name__)

T = TypeVar("T")
RETRY_ATTEMPTS = 3
DISPATCH_BATCH = 50
KEEP_DONE = timedelta(days=7)
# The worker re-runs pending rows only once they are this old: a row younger than this may still be
# on its way through its own process's after-commit dispatch.
PENDING_GRACE_SECONDS = 10
_COMMITTED_KEY = "domain_events_committed"
# session.info: a callable that takes the after-commit dispatch (a function of no arguments) to run it
# later, elsewhere: a voice turn the caller waits on hands it to a background thread instead of running
# the handlers before its answer. The rows are committed either way; the worker runs what never ran.
DISPATCH_LATER_KEY = "dispatch_after_commit_later"
_DUE = (DomainEventState.PENDING, DomainEventState.FAILED)
_RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization_failure, deadlock_detected


# ---------------------------------------------------------------------------- the unit of work


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose transaction commits when the block ends and rolls back if it raises."""
    session = factory()
    try:
        yield session
        session.commit()
    finally:
        finish(session)


def finish(session: Session) -> None:
    """End a unit of work: roll back whatever was not committed (all of it after an error) and close.
    A web request's session ends here too (callcenter/web/db.py): its views commit what they keep."""
    try:
        session.rollback()
    finally:
        session.close()


def is_retryable(exc: BaseException) -> bool:
    """A conflict the database resolved by aborting this transaction: running it again may succeed."""
    orig = getattr(exc, "orig", None) or exc
    if getattr(orig, "sqlstate", None) in _RETRYABLE_SQLSTATES:
        return True
    return isinstance(orig, sqlite3.OperationalError) and "database is locked" in str(orig)


def run(factory: sessionmaker[Session], work: Callable[[Session], T], *, attempts: int = RETRY_ATTEMPTS) -> T:
    """`work` in a unit of work, run again after a deadlock, serialisation failure or locked database."""

    def once() -> T:
        with unit_of_work(factory) as session:
            return work(session)

    return retry(once, attempts=attempts)


def retry(attempt: Callable[[], T], *, attempts: int = RETRY_ATTEMPTS) -> T:
    """Call `attempt` (which opens and ends its own units of work) again while it fails with a conflict."""
    for tried in range(1, attempts + 1):
        try:
            return attempt()
        except Exception as exc:
            if tried >= attempts or not is_retryable(exc) or past_deadline():
                raise
            pause = random.uniform(0.01, 0.05) * tried  # the winner commits meanwhile; spread the losers
            left = remaining()
            if left is not None and left <= pause:
                raise
            log.warning("transaction conflict (%s), attempt %s of %s: running it again",
                        type(getattr(exc, "orig", None) or exc).__name__, tried, attempts)
            time.sleep(pause)
    raise AssertionError("unreachable")


def retried(view: Callable[..., T]) -> Callable[..., T]:
    """A web adapter that is re-runnable as a whole (its state is in the units of work it opens, its
    answer is built afresh each time), run again after a conflict instead of answering 500."""

    @functools.wraps(view)
    def wrapper(*args: object, **kwargs: object) -> T:
        return retry(lambda: view(*args, **kwargs))

    return wrapper


# ---------------------------------------------------------------------------- after-commit dispatch


def install(factory: sessionmaker[Session]) -> None:
    """Dispatch the events a session of `factory` recorded once it commits; forget them on rollback."""

    def after_commit(session: Session) -> None:
        if session.in_nested_transaction():
            return  # a savepoint's release (it fires this hook too): the transaction goes on
        rows = session.info.pop(events.PENDING_KEY, None)
        if rows:
            session.info[_COMMITTED_KEY] = rows

    def after_rollback(session: Session) -> None:
        if not session.in_nested_transaction():
            session.info.pop(events.PENDING_KEY, None)

    def after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
        # Dispatch once the committed transaction has given its connection back to the pool: a request
        # never holds two connections (the pool is sized for one per thread).
        if transaction.parent is not None:
            return
        session.info.pop(events.PENDING_KEY, None)  # left only by a transaction that did not commit (close())
        rows = session.info.pop(_COMMITTED_KEY, None)
        if not rows:
            return
        ids = [row.id for row in rows if inspect(row).has_identity]  # a rolled-back savepoint's are gone
        info = {"settings": session.info["settings"]} if session.info.get("settings") else {}

        def dispatch() -> None:
            for row_id in ids:
                try:
                    dispatch_one(factory, row_id, info=info)
                except Exception:  # never the committer's problem: the worker runs the row later
                    log.exception("domain event %s: dispatch after commit failed; left for the worker", row_id)

        later = session.info.get(DISPATCH_LATER_KEY)
        if ids and later is not None:
            later(dispatch)
        else:
            dispatch()

    sa_event.listen(factory, "after_commit", after_commit)
    sa_event.listen(factory, "after_rollback", after_rollback)
    sa_event.listen(factory, "after_transaction_end", after_transaction_end)


def dispatch_in_transaction(session: Session) -> int:
    """Run the after-commit handlers of the events this transaction has published so far now, each in a
    savepoint of it, instead of after the commit in transactions of their own: the effect then commits
    with the change or not at all, and costs no second transaction (a mail's auto-reply: one commit per
    mail instead of two). The row is written as done (by its INSERT when not flushed yet). A handler
    that fails is rolled back to its savepoint and its row stays pending, dispatched after the commit
    as any other (and retried by the worker): a failure still never touches the change. Returns how
    many ran here."""
    pending = session.info.get(events.PENDING_KEY)
    tried: set[int] = set()
    ran = 0
    while pending:
        todo = [row for row in pending if id(row) not in tried]  # handlers may publish more
        if not todo:
            break
        for row in todo:
            tried.add(id(row))
            handler = events.after_commit_handler(row.handler)
            state = inspect(row)
            if handler is None or row.state != DomainEventState.PENDING or not (state.pending or state.persistent):
                continue
            if _run_here(session, row, handler):
                pending.remove(row)
                ran += 1
    return ran


def _run_here(session: Session, row: DomainEvent, handler: events.Handler) -> bool:
    outer_cause = session.info.get(events.CAUSE_KEY)
    session.info[events.CAUSE_KEY] = row.cause
    # A row not flushed yet is written as done by its INSERT; a flushed one is marked inside the
    # savepoint, so that its UPDATE goes out with the handler's writes in one flush (begin_nested
    # flushes whatever is pending first: a flush of its own per event).
    unflushed = inspect(row).pending
    if unflushed:
        _mark_done(row)
    try:
        with session.begin_nested():
            if not unflushed:
                _mark_done(row)
            handler(session, events.decode(row.event_type, row.payload))
        return True
    except Exception:
        log.warning("domain event %s: %s failed in the publishing transaction; dispatched after its commit",
                    row.event_type, row.handler, exc_info=True)
        row.state, row.attempts, row.done_at = DomainEventState.PENDING, 0, None
        return False
    finally:
        if outer_cause is None:
            session.info.pop(events.CAUSE_KEY, None)
        else:
            session.info[events.CAUSE_KEY] = outer_cause


def _mark_done(row: DomainEvent) -> None:
    row.state, row.attempts, row.done_at = DomainEventState.DONE, 1, _now_of(row)


def _now_of(row: DomainEvent) -> datetime:
    # The event's own time (the domain clock tests control); rows of events without one: the wall clock.
    found = row.payload.get("now") if isinstance(row.payload, dict) else None
    if isinstance(found, dict) and "$datetime" in found:
        return datetime.fromisoformat(found["$datetime"])
    return datetime.now(UTC)


def dispatch_one(factory: sessionmaker[Session], row_id: int, *, now: datetime | None = None,
                 info: dict | None = None) -> bool | None:
    """Run one row's handler: True when it ran, False when it failed (recorded), None when the row is
    done already or another dispatcher holds it."""
    session = factory()
    if info:
        session.info.update(info)
    failure: tuple[Exception, datetime, int, int] | None = None
    try:
        begin_write(session)
        row = session.scalar(select(DomainEvent).where(DomainEvent.id == row_id, DomainEvent.state.in_(_DUE))
                             .with_for_update(skip_locked=True))
        if row is None:
            session.rollback()
            return None
        at = now or _now_of(row)
        attempts, max_attempts = row.attempts + 1, row.max_attempts
        handler = events.after_commit_handler(row.handler)
        try:
            if handler is None:
                raise LookupError(f"no after-commit handler {row.handler} is wired in this process")
            session.info[events.CAUSE_KEY] = row.cause
            try:
                handler(session, events.decode(row.event_type, row.payload))
            finally:
                session.info.pop(events.CAUSE_KEY, None)
            row.state, row.attempts, row.done_at, row.last_error = DomainEventState.DONE, attempts, at, None
            session.commit()  # the effect and "done" together; events the handler published follow
            return True
        except Exception as exc:
            session.rollback()
            failure = (exc, at, attempts, max_attempts)
    finally:
        session.close()
    exc, at, attempts, max_attempts = failure
    _record_failure(factory, row_id, exc, at, attempts, max_attempts)
    return False


def _record_failure(factory: sessionmaker[Session], row_id: int, exc: Exception, now: datetime, attempts: int,
                    max_attempts: int) -> None:
    dead = attempts >= max_attempts
    reason = f"{type(exc).__name__}: {exc}"[:2000]
    log.error("domain event %s: handler failed (attempt %s of %s)%s: %s", row_id, attempts, max_attempts,
              "; giving up" if dead else "; retried later", reason, exc_info=exc)
    with unit_of_work(factory) as session:
        session.execute(update(DomainEvent).where(DomainEvent.id == row_id, DomainEvent.state.in_(_DUE)).values(
            state=DomainEventState.DEAD if dead else DomainEventState.FAILED, attempts=attempts,
            last_error=reason, next_attempt_at=now + backoff(attempts)))


def dispatch_due(factory: sessionmaker[Session], now: datetime, *, limit: int = DISPATCH_BATCH,
                 info: dict | None = None) -> int:
    """Run the rows that are due: failed ones whose retry time came, and pending ones older than the
    grace period (their process died between commit and dispatch). Returns how many handlers ran."""
    with unit_of_work(factory) as session:
        ids = list(session.scalars(
            select(DomainEvent.id)
            .where(DomainEvent.state.in_(_DUE), DomainEvent.next_attempt_at <= now,
                   (DomainEvent.state == DomainEventState.FAILED)
                   | (DomainEvent.created_at <= now - timedelta(seconds=PENDING_GRACE_SECONDS)))
            .order_by(DomainEvent.next_attempt_at, DomainEvent.id).limit(limit)))
    ran = 0
    for row_id in ids:
        if dispatch_one(factory, row_id, now=now, info=info):
            ran += 1
    return ran


@periodic("domain-events", seconds=5)
def dispatch_job(factory: sessionmaker[Session], settings: Settings, now: datetime) -> None:
    """The worker's safety net for after-commit handlers: retries and crash leftovers; done rows are
    kept for a week (what happened after a change, for whoever investigates it), then deleted."""
    while dispatch_due(factory, now, info={"settings": settings}) >= DISPATCH_BATCH:
        pass
    with unit_of_work(factory) as session:
        session.execute(delete(DomainEvent).where(DomainEvent.state == DomainEventState.DONE,
                                                  DomainEvent.next_attempt_at < now - KEEP_DONE))
