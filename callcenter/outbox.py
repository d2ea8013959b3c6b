"""The outbox: outgoing SMS, calls, e-mails and downloads as rows, sent by workers with retries.

Services enqueue in their own transaction (so a webhook or a ticket change never does network
I/O); `drain` claims due rows, calls the provider outside any transaction, then records the
outcome. Any number of workers may drain at once.

A claim belongs to one claimant: each claim (the rows one pass claims together) carries a fresh
token, and every later write of that worker to a row (renewing the lease, recording the outcome) is
conditional on the row's id and that token. The lease is short
and renewed in the database before a send when little of it is left, so a worker slowly working
through a batch keeps its rows. A row left in 'sending' is reconciled only when its lease ran out
*and* its claimant stopped beating (`worker_heartbeats`): a slow worker is never mistaken for a
dead one. Reconciliation asks the provider for the exact message first (our claim reference
travels with every Twilio request), so a page that Twilio accepted before its sender died is not
sent again.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached, sessionmaker

from . import bulk, metrics
from .db import session_scope
from .models import OutboxAttempt, OutboxMessage, OutboxState, WorkerHeartbeat
from .providers.base import Provider
from .validation import refuse_unstorable_row

log = logging.getLogger(__name__)

# A claim's lease on each row; renewed before a send when less than LEASE_MARGIN is left. The margin
# is longer than a provider request may take (the Twilio client's 10 s timeout), so a send never
# starts on a lease that could run out under it. The lease is what a worker's crash costs the pages
# it held (then they are reconciled): short, since a batch of sends takes a few seconds.
LEASE = timedelta(seconds=20)
LEASE_MARGIN = timedelta(seconds=12)
# Workers beat every HEARTBEAT_INTERVAL; one silent for HEARTBEAT_TIMEOUT is gone.
HEARTBEAT_INTERVAL = timedelta(seconds=3)
HEARTBEAT_TIMEOUT = timedelta(seconds=15)
HEARTBEAT_KEEP = timedelta(days=1)
MAX_BACKOFF = timedelta(minutes=15)
RECONCILE_BATCH = 100

# source_kind -> callback(session, message, now) run after a send was accepted or finally failed,
# so the service that asked (paging, recordings) can react in its own terms.
SentHook = Callable[[Session, OutboxMessage, datetime], None]
# source_kind -> lock(session, payload) taken before a message of that source is written, so every
# path takes locks in the owner's order (paging: the alert before its timers and its messages).
OwnerLock = Callable[[Session, dict], None]
_after_send: dict[str, list[SentHook]] = {}
_after_status: dict[str, list[SentHook]] = {}
BatchOwnerLock = Callable[[Session, list[dict]], None]
_owner_locks: dict[str, OwnerLock] = {}
_batch_owner_locks: dict[str, BatchOwnerLock] = {}


def on_sent(source_kind: str, hook: SentHook) -> None:
    hooks = _after_send.setdefault(source_kind, [])
    if hook not in hooks:
        hooks.append(hook)


def on_status(source_kind: str, hook: SentHook) -> None:
    """Hook for provider status reports (delivered, failed, no-answer ...) of this source's messages."""
    hooks = _after_status.setdefault(source_kind, [])
    if hook not in hooks:
        hooks.append(hook)


def lock_owner_first(source_kind: str, lock: OwnerLock) -> None:
    """Register the lock that must be held before a message of this source is written."""
    _owner_locks[source_kind] = lock


def lock_owners_first(source_kind: str, lock: BatchOwnerLock) -> None:
    """Register the lock of many messages' owners at once (recording a batch of sends); without one,
    the single lock is taken for each message in turn."""
    _batch_owner_locks[source_kind] = lock


def _lock_owner(session: Session, source_kind: str | None, payload: dict | None) -> None:
    lock = _owner_locks.get(source_kind or "")
    if lock is not None:
        lock(session, payload or {})


def _lock_owners(session: Session, messages: list[tuple[str | None, dict | None]]) -> None:
    """The owners of many messages, each source's in one go where it can, the sources in name order."""
    for source_kind in sorted({kind or "" for kind, _ in messages}):
        payloads = [payload or {} for kind, payload in messages if (kind or "") == source_kind]
        if source_kind in _batch_owner_locks:
            _batch_owner_locks[source_kind](session, payloads)
        else:
            for payload in payloads:
                _lock_owner(session, source_kind, payload)


@dataclass(frozen=True)
class Claimant:
    """A worker that claims rows; its id names it in `outbox.claimed_by` and `worker_heartbeats`."""

    worker_id: str

    @classmethod
    def new(cls, label: str = "drain") -> Claimant:
        return cls(f"{socket.gethostname()}:{os.getpid()}:{label}:{uuid.uuid4().hex[:8]}"[:100])


@dataclass(frozen=True)
class Claim:
    message_id: int
    token: str
    claimant: Claimant
    claimed_at: datetime
    lease_until: datetime

    @property
    def ref(self) -> str:
        """Our identifier of this attempt, passed to the provider (e.g. in Twilio callback URLs)."""
        return f"{self.message_id}.{self.token}"


def parse_claim_ref(text: str | None) -> tuple[int, str] | None:
    head, _, token = (text or "").partition(".")
    if not head.isdigit() or not token or len(token) > 32 or not token.isalnum():
        return None
    return int(head), token


def enqueue(session: Session, *, key: str, channel: str, destination: str, payload: dict, now: datetime,
            source_kind: str | None = None, source_id: int | None = None, max_attempts: int = 6,
            not_before: datetime | None = None) -> OutboxMessage:
    """Queue a message once per key; enqueueing the same key again returns the existing row.

    One INSERT .. ON CONFLICT DO NOTHING (`bulk.insert_one_new`) instead of a look-up, then an INSERT
    in a savepoint: every auto-reply and page is queued here. The row it wrote joins the session as a
    loaded object, as if the unit of work had written it."""
    for obj in session.new:  # queued in this transaction and not flushed yet (the look-up's autoflush found it)
        if isinstance(obj, OutboxMessage) and obj.idempotency_key == key:
            return obj
    values = new_row(key=key, channel=channel, destination=destination, payload=payload, now=now,
                     source_kind=source_kind, source_id=source_id, max_attempts=max_attempts, not_before=not_before)
    refuse_unstorable_row(OutboxMessage.__table__, values)
    new_id = bulk.insert_one_new(session, OutboxMessage, values, "idempotency_key")
    if new_id is None:  # queued before, or by another transaction a moment ago
        return session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
    msg = OutboxMessage(id=new_id, **values)
    make_transient_to_detached(msg)  # its values are what the row holds: nothing to write again
    session.add(msg)
    return msg


def new_row(*, key: str, channel: str, destination: str, payload: dict, now: datetime,
            source_kind: str | None = None, source_id: int | None = None, max_attempts: int = 6,
            not_before: datetime | None = None) -> dict:
    """The values of a new outbox row (for `enqueue`, or a batch's `bulk.insert_new`)."""
    return dict(idempotency_key=key, channel=channel, destination=destination, payload=payload,
                state=OutboxState.PENDING, attempts=0, next_attempt_at=not_before or now, created_at=now,
                updated_at=now, source_kind=source_kind, source_id=source_id, max_attempts=max_attempts)


def backoff(attempts: int, retry_after: float | None = None) -> timedelta:
    delay = timedelta(seconds=15 * 2 ** max(attempts - 1, 0))
    if retry_after:
        delay = max(delay, timedelta(seconds=retry_after))
    return min(delay, MAX_BACKOFF)


# ------------------------------------------------------------------ heartbeats


def beat(session: Session, claimant: Claimant, now: datetime) -> None:
    """Say in this transaction that the claimant is alive."""
    if session.execute(update(WorkerHeartbeat).where(WorkerHeartbeat.worker_id == claimant.worker_id)
                       .values(beat_at=now)).rowcount:
        return
    try:
        with session.begin_nested():
            session.add(WorkerHeartbeat(worker_id=claimant.worker_id, started_at=now, beat_at=now))
    except IntegrityError:
        session.execute(update(WorkerHeartbeat).where(WorkerHeartbeat.worker_id == claimant.worker_id)
                        .values(beat_at=now))


def heartbeat(factory: sessionmaker[Session], claimant: Claimant, now: datetime) -> None:
    """A worker's periodic beat; it also forgets workers silent for a day."""
    with session_scope(factory) as session:
        beat(session, claimant, now)
        session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.beat_at < now - HEARTBEAT_KEEP))


# ------------------------------------------------------------------ claiming and sending


def claim_due(session: Session, now: datetime, limit: int = 20, claimant: Claimant | None = None) -> list[Claim]:
    """Claim up to `limit` due messages for `claimant`; each row goes to exactly one claimant."""
    return [claim for claim, _ in claim_batch(session, now, limit, claimant)]


def claim_batch(session: Session, now: datetime, limit: int = 20,
                claimant: Claimant | None = None) -> list[tuple[Claim, Snapshot]]:
    """`claim_due` with each claimed row's snapshot, in two statements for the whole batch: the due rows
    (SKIP LOCKED), then one conditional UPDATE ... RETURNING. The claim's token is fresh for each batch,
    and the claim reference (row id and token) names one attempt of one row."""
    candidates = list(session.scalars(
        select(OutboxMessage.id)
        .where(OutboxMessage.state == OutboxState.PENDING, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ))
    if not candidates:
        return []
    claimant = claimant or Claimant.new()
    beat(session, claimant, now)  # alive before it holds anything
    lease_until = now + LEASE
    token = uuid.uuid4().hex
    table = OutboxMessage.__table__
    claimed = session.execute(
        table.update()
        .where(table.c.id.in_(candidates), table.c.state == OutboxState.PENDING)
        .values(state=OutboxState.SENDING, attempts=table.c.attempts + 1, updated_at=now,
                sending_deadline=lease_until, claim_token=token, claimed_by=claimant.worker_id, claimed_at=now)
        .returning(table.c.id, table.c.idempotency_key, table.c.channel, table.c.destination, table.c.payload,
                   table.c.attempts, table.c.source_kind, table.c.source_id)
    ).all()
    claims = []
    for row in sorted(claimed, key=lambda r: candidates.index(r.id)):
        claim = Claim(row.id, token, claimant, now, lease_until)
        claims.append((claim, Snapshot(row, claim)))
    return claims


def next_due_at(session: Session) -> datetime | None:
    """When the earliest pending message falls due (an index lookup: ix_outbox_due)."""
    return session.scalar(select(func.min(OutboxMessage.next_attempt_at))
                          .where(OutboxMessage.state == OutboxState.PENDING))


class Snapshot:
    """A detached copy of a claimed message for the provider, so no session is open during network I/O."""

    def __init__(self, msg: OutboxMessage, claim: Claim | None = None) -> None:
        self.id = msg.id
        self.idempotency_key = msg.idempotency_key
        self.channel = msg.channel
        self.destination = msg.destination
        self.payload = dict(msg.payload or {})
        self.attempts = msg.attempts
        self.source_kind = msg.source_kind
        self.source_id = msg.source_id
        self.claimed_at = claim.claimed_at if claim else msg.claimed_at
        self.claim_ref = claim.ref if claim else (f"{msg.id}.{msg.claim_token}" if msg.claim_token else None)


def drain(factory: sessionmaker[Session], providers: dict[str, Provider], now_fn: Callable[[], datetime],
          limit: int = 20, claimant: Claimant | None = None, reconcile: bool = True) -> int:
    """One pass: reconcile rows of dead claimants (unless `reconcile` is False: the worker's due loop
    leaves that to its slower periodic pass), claim due rows, send them outside a transaction
    (concurrently), record the outcomes (outbox_send)."""
    # Modules of their own that build on this one (imported here: they import it).
    from .outbox_reconcile import reconcile_stuck
    from .outbox_send import send_batch

    claimant = claimant or Claimant.new()
    if reconcile:
        reconcile_stuck(factory, providers, now_fn(), claimant)
    with session_scope(factory) as session:
        batch = claim_batch(session, now_fn(), limit, claimant)
    if batch:
        send_batch(factory, providers, batch, now_fn)
    return len(batch)


def _attempt(session: Session, message_id: int, now: datetime, kind: str, outcome: str, detail: str | None) -> None:
    session.add(OutboxAttempt(message_id=message_id, at=now, kind=kind, outcome=outcome, detail=detail))



# ------------------------------------------------------------------ provider status reports


# Provider statuses that end a message, and whether they count as reaching the person.
FINAL_STATUSES = {
    "delivered": OutboxState.DELIVERED, "read": OutboxState.DELIVERED, "completed": OutboxState.DELIVERED,
    "undelivered": OutboxState.FAILED, "failed": OutboxState.FAILED, "busy": OutboxState.FAILED,
    "no-answer": OutboxState.FAILED, "canceled": OutboxState.FAILED,
}


def record_status(session: Session, provider_ref: str, status: str, now: datetime, *,
                  sequence: int | None = None, error_code: str | None = None,
                  detail: str | None = None, claim_ref: tuple[int, str] | None = None) -> OutboxMessage | None:
    """Apply a provider status report; late or repeated reports never move a message backwards.

    `claim_ref` (message id, claim token; from our callback URL) ties a report to its row even
    before the sender recorded the provider's id.
    """
    msg = session.scalar(select(OutboxMessage).where(OutboxMessage.provider_ref == provider_ref))
    if msg is None and claim_ref is not None:
        msg = session.get(OutboxMessage, claim_ref[0])
        if msg is None or msg.claim_token != claim_ref[1]:
            return None
    if msg is None:
        return None
    _lock_owner(session, msg.source_kind, msg.payload)
    msg = session.scalar(select(OutboxMessage).where(OutboxMessage.id == msg.id).with_for_update()
                         .execution_options(populate_existing=True))
    if msg.provider_ref is None:
        msg.provider_ref = provider_ref
    elif msg.provider_ref != provider_ref:
        # Our reference on a second provider message: the same page went out twice. Keep the first.
        _attempt(session, msg.id, now, "status", "duplicate", f"{provider_ref} also carries this message's claim")
        return msg
    _attempt(session, msg.id, now, "status", status, detail or (f"error {error_code}" if error_code else None))
    if sequence is not None and msg.provider_seq is not None and sequence <= msg.provider_seq:
        return msg
    if msg.state in {OutboxState.DELIVERED, OutboxState.FAILED, OutboxState.DEAD} and sequence is None:
        return msg
    if sequence is not None:
        msg.provider_seq = sequence
    msg.provider_status = status
    msg.updated_at = now
    if error_code:
        msg.error_code = str(error_code)
    if status in FINAL_STATUSES:
        msg.state = FINAL_STATUSES[status]
        msg.sending_deadline = None
        if msg.state == OutboxState.FAILED:
            # Counted when the report is applied; a rolled-back webhook is retried by the provider.
            metrics.outbox_failed(msg.channel, msg.source_kind)
        for hook in _after_status.get(msg.source_kind or "", []):
            hook(session, msg, now)
    return msg


def _masked(destination: str | None) -> str:
    """Phone numbers and addresses in logs keep their last four characters: enough to tell them apart."""
    text = destination or ""
    return text if len(text) <= 4 or text.startswith(("http://", "https://")) else "…" + text[-4:]


def _source_ids(msg: OutboxMessage) -> dict[str, object]:
    payload = msg.payload or {}
    return {"alert_id": payload.get("alert_id"), "page_id": payload.get("page_id"),
            "ticket_id": msg.source_id if msg.source_kind == "mail" else None}


def trail(session: Session, message_ids: list[int]) -> list[OutboxAttempt]:
    if not message_ids:
        return []
    return list(session.scalars(select(OutboxAttempt).where(OutboxAttempt.message_id.in_(message_ids))
                                .order_by(OutboxAttempt.at, OutboxAttempt.id)))

