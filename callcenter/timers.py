"""Durable timers: rows with a due time, fired exactly once by whichever worker claims them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import groupby

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from . import bulk, logs
from .db import begin_write, session_scope
from .models import Timer

log = logging.getLogger(__name__)

TimerHandler = Callable[[Session, Timer, datetime], None]
# kind -> lock(session, payload) -> held?  Taken before the timer row itself, so a worker firing a
# timer locks in the same order as everyone else (paging: the alert, then its timers).
OwnerLock = Callable[[Session, dict], bool]
# A kind may also be fired set-based: handler(session, [(timer id, payload), ...], now) for a whole batch
# whose timers are claimed with one statement, after lock(session, [payload, ...]) -> [held?, ...].
BatchHandler = Callable[[Session, list[tuple[int, dict]], datetime], None]
BatchOwnerLock = Callable[[Session, list[dict]], list[bool]]
_handlers: dict[str, TimerHandler] = {}
_owner_locks: dict[str, OwnerLock] = {}
_batch_handlers: dict[str, BatchHandler] = {}
_batch_owner_locks: dict[str, BatchOwnerLock] = {}
RETRY_AFTER_ERROR = timedelta(seconds=60)
# A firing pass stops taking timers after this long and commits what it fired.
BATCH_SECONDS = 0.25
# Timers of a kind with a batch handler are claimed and handled this many at a time.
CHUNK = 50


def register(kind: str, handler: TimerHandler) -> None:
    _handlers[kind] = handler


def lock_owner_first(kind: str, lock: OwnerLock) -> None:
    """Timers of `kind` are fired with `lock` held first. The lock returns False when its row is busy
    (another worker fires a timer of the same owner): the timer is then left for the next pass."""
    _owner_locks[kind] = lock


def register_batch(kind: str, handler: BatchHandler, lock: BatchOwnerLock | None = None) -> None:
    """Fire due timers of `kind` in batches (see fire_due); `register`'s handler stays the fallback that
    fires them one by one when a batch fails."""
    _batch_handlers[kind] = handler
    if lock is not None:
        _batch_owner_locks[kind] = lock


def new_row(*, key: str, kind: str, due_at: datetime, now: datetime, payload: dict | None = None) -> dict:
    """The values of a new timer, for a batch's `bulk.insert_new(session, Timer, rows, "key")`."""
    return dict(key=key, kind=kind, due_at=due_at, payload=payload or {}, created_at=now)


def schedule(session: Session, *, key: str, kind: str, due_at: datetime, now: datetime,
             payload: dict | None = None) -> Timer:
    """Create the timer once; scheduling the same key again returns the existing row."""
    existing = session.scalar(select(Timer).where(Timer.key == key))
    if existing is not None:
        return existing
    timer = Timer(key=key, kind=kind, due_at=due_at, payload=payload or {}, created_at=now)
    try:
        with session.begin_nested():
            session.add(timer)
    except IntegrityError:
        return session.scalar(select(Timer).where(Timer.key == key))
    return timer


def schedule_once(session: Session, *, key: str, kind: str, due_at: datetime, now: datetime,
                  payload: dict | None = None) -> bool:
    """`schedule` without the Timer back, in one statement (`bulk.insert_one_new`): the read, savepoint
    and INSERT it replaces ran inside the write transaction of a caller's turn (the queue watch of a
    critical fault). True when this call created the timer, False when `key` was already scheduled (that
    timer is left as it was). It runs no autoflush: pending ORM changes stay pending for the caller's
    next flush. The row is the one `schedule` writes."""
    values = {"key": key, "kind": kind, "due_at": due_at, "payload": payload or {}, "created_at": now}
    return bulk.insert_one_new(session, Timer, values, key="key") is not None


def cancel(session: Session, key: str, now: datetime) -> bool:
    result = session.execute(update(Timer).where(Timer.key == key, Timer.fired_at.is_(None),
                                                 Timer.cancelled_at.is_(None)).values(cancelled_at=now))
    return result.rowcount == 1


def cancel_prefix(session: Session, prefix: str, now: datetime) -> int:
    result = session.execute(update(Timer).where(Timer.key.like(f"{prefix}%"), Timer.fired_at.is_(None),
                                                 Timer.cancelled_at.is_(None)).values(cancelled_at=now))
    return result.rowcount


def fire_due(factory: sessionmaker[Session], now: datetime, worker: str = "worker", limit: int = 50) -> int:
    """Fire due timers; each fires exactly once, with its handler's writes, or not at all.

    A pass fires its timers in one transaction: a burst of due timers costs one commit per batch
    instead of one per timer. It takes the due timers with SKIP LOCKED (PostgreSQL; SQLite: inside the
    write lock), so concurrent workers take different ones, and their owners (paging: the alerts) with
    SKIP LOCKED too: a worker never waits for a lock while it holds one, so it cannot deadlock with
    the paths that lock the alert and then its timers. Kinds with a batch handler fire CHUNK at a time
    (one savepoint, one claim statement, the handler's set-based writes); if a chunk fails, its timers
    are fired again one by one, each in a savepoint of its own, so a failing handler undoes only its
    own claim and writes. The pass stops taking timers after BATCH_SECONDS, so the owner rows it
    holds are never held for long."""
    due_now = (Timer.fired_at.is_(None), Timer.cancelled_at.is_(None), Timer.due_at <= now)
    with session_scope(factory) as session:
        # A read first: a pass with nothing due (most of them) takes no lock and writes nothing.
        if session.scalar(select(Timer.id).where(*due_now).limit(1)) is None:
            return 0
    fired = 0
    failed: list[tuple[int, Exception]] = []
    began = time.monotonic()
    with session_scope(factory) as session:
        # SQLite: the write lock first (BEGIN IMMEDIATE waits its turn), then the due timers, so a worker
        # never reads timers that another fires before it gets the lock.
        begin_write(session)
        due = list(session.execute(
            select(Timer.id, Timer.kind, Timer.payload).where(*due_now)
            .order_by(Timer.due_at, Timer.id).limit(limit).with_for_update(skip_locked=True)
        ))
        for start in range(0, len(due), CHUNK):
            if start and time.monotonic() - began > BATCH_SECONDS:
                break  # the rest stays due: the next pass takes it
            # In due order: a run of timers of a batch kind fires as one batch, any other timer alone.
            for kind, run in groupby(due[start:start + CHUNK], key=lambda row: row[1]):
                rows = list(run)
                if kind in _batch_handlers:
                    try:
                        with session.begin_nested():
                            fired += _fire_batch(session, kind, rows, now, worker)
                        continue
                    except Exception:
                        log.exception("a batch of %d %s timers failed; firing them one by one", len(rows), kind)
                for timer_id, _, payload in rows:
                    try:
                        with session.begin_nested():
                            fired += _fire_one(session, timer_id, kind, payload, now, worker)
                    except Exception as exc:
                        # The savepoint rolled back this timer's claim with its handler's writes.
                        log.exception("timer %s failed", timer_id)
                        failed.append((timer_id, exc))
        for timer_id, exc in failed:
            session.execute(update(Timer).where(Timer.id == timer_id, Timer.fired_at.is_(None))
                            .values(due_at=now + RETRY_AFTER_ERROR, error=f"{type(exc).__name__}: {exc}"[:2000]))
    return fired


def _fire_batch(session: Session, kind: str, rows: list, now: datetime, worker: str) -> int:
    lock = _batch_owner_locks.get(kind)
    held = lock(session, [payload or {} for _, _, payload in rows]) if lock else [True] * len(rows)
    ids = [timer_id for (timer_id, _, _), ok in zip(rows, held, strict=True) if ok]
    if not ids:
        return 0
    claimed = [(timer_id, payload or {}) for timer_id, payload in session.execute(
        update(Timer).where(Timer.id.in_(ids), Timer.fired_at.is_(None), Timer.cancelled_at.is_(None))
        .values(fired_at=now, fired_by=worker).returning(Timer.id, Timer.payload)
        .execution_options(synchronize_session=False))]
    if claimed:
        log.debug("%d %s timers fired", len(claimed), kind)
        _batch_handlers[kind](session, claimed, now)
    return len(claimed)


def _fire_one(session: Session, timer_id: int, kind: str, payload: dict | None, now: datetime, worker: str) -> int:
    owner_lock = _owner_locks.get(kind)
    if owner_lock is not None and not owner_lock(session, payload or {}):
        return 0
    # On PostgreSQL, skip a timer another worker is firing right now instead of queueing behind its
    # lock; the conditional UPDATE below stays the exactly-once guarantee.
    free = session.scalar(select(Timer.id).where(Timer.id == timer_id, Timer.fired_at.is_(None))
                          .with_for_update(skip_locked=True))
    if free is None:
        return 0
    claimed = session.execute(
        update(Timer).where(Timer.id == timer_id, Timer.fired_at.is_(None), Timer.cancelled_at.is_(None))
        .values(fired_at=now, fired_by=worker)
    ).rowcount
    if claimed != 1:
        return 0  # another worker won, or it was cancelled meanwhile
    timer = session.get(Timer, timer_id)
    handler = _handlers.get(timer.kind)
    if handler is None:
        timer.error = f"no handler for timer kind {timer.kind!r}"
        log.error(timer.error)
    else:
        with logs.bound(timer_id=timer_id, **_payload_ids(timer.payload)):
            log.debug("timer %s (%s) fired", timer_id, timer.kind)
            handler(session, timer, now)
    return 1


def next_due_at(session: Session) -> datetime | None:
    """When the earliest pending timer falls due (an index lookup: ix_timers_due)."""
    return session.scalar(select(func.min(Timer.due_at)).where(Timer.fired_at.is_(None),
                                                               Timer.cancelled_at.is_(None)))


def _payload_ids(payload: dict | None) -> dict[str, object]:
    """The ids a timer's payload names (alert_id, call_id, ticket_id ...), for its log lines."""
    return {key: value for key, value in (payload or {}).items() if key.endswith("_id")}


def overdue(session: Session, now: datetime, grace: timedelta = timedelta(minutes=2)) -> list[Timer]:
    """Timers that should have fired by now: a sign that no worker is running."""
    return list(session.scalars(select(Timer).where(Timer.fired_at.is_(None), Timer.cancelled_at.is_(None),
                                                    Timer.due_at < now - grace)))
