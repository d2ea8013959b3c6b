"""The outbox: outgoing SMS, calls, e-mails and downloads as rows, sent by workers with retries.

Services enqueue in their own transaction (so a webhook or a ticket change never does network
I/O); `drain` claims due rows, calls the provider outside any transaction, then records the
outcome. Any number of workers may drain at once.

A claim belongs to one claimant: each claimed row carries a fresh token, and every later write of
that worker (renewing the lease, recording the outcome) is conditional on it. The lease is short
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

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from . import logs, metrics
from .db import session_scope
from .models import OutboxAttempt, OutboxMessage, OutboxState, WorkerHeartbeat
from .providers.base import PermanentError, Provider, SendResult, TemporaryError

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
_owner_locks: dict[str, OwnerLock] = {}


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


def _lock_owner(session: Session, source_kind: str | None, payload: dict | None) -> None:
    lock = _owner_locks.get(source_kind or "")
    if lock is not None:
        lock(session, payload or {})


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
    """Queue a message once per key; enqueueing the same key again returns the existing row."""
    existing = session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
    if existing is not None:
        return existing
    msg = OutboxMessage(idempotency_key=key, channel=channel, destination=destination, payload=payload,
                        state=OutboxState.PENDING, next_attempt_at=not_before or now, created_at=now,
                        updated_at=now, source_kind=source_kind, source_id=source_id, max_attempts=max_attempts)
    try:
        with session.begin_nested():
            session.add(msg)
    except IntegrityError:
        # Another transaction queued the same key a moment ago.
        return session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
    return msg


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
    claims = []
    for message_id in candidates:
        token = uuid.uuid4().hex
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.state == OutboxState.PENDING)
            .values(state=OutboxState.SENDING, attempts=OutboxMessage.attempts + 1, updated_at=now,
                    sending_deadline=lease_until, claim_token=token, claimed_by=claimant.worker_id,
                    claimed_at=now)
        )
        if result.rowcount == 1:
            claims.append(Claim(message_id, token, claimant, now, lease_until))
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
    leaves that to its slower periodic pass), claim due rows, send each outside a transaction, record
    the outcome."""
    claimant = claimant or Claimant.new()
    if reconcile:
        reconcile_stuck(factory, providers, now_fn(), claimant)
    with session_scope(factory) as session:
        claims = claim_due(session, now_fn(), limit, claimant)
        rows = {m.id: m for m in session.scalars(
            select(OutboxMessage).where(OutboxMessage.id.in_([c.message_id for c in claims])))} if claims else {}
        snapshots = [(claim, Snapshot(rows[claim.message_id], claim)) for claim in claims]
    for claim, snapshot in snapshots:
        claim = _keep_lease(factory, claim, now_fn())
        if claim is None:
            continue
        send_claimed(factory, providers, claim, snapshot, now_fn)
    return len(snapshots)


def _keep_lease(factory: sessionmaker[Session], claim: Claim, now: datetime) -> Claim | None:
    """The claim, with its lease renewed in the database when too little is left for one send; None
    when the row is no longer ours (reconciled meanwhile: then someone else owns it)."""
    if claim.lease_until - now >= LEASE_MARGIN:
        return claim
    lease_until = now + LEASE
    with session_scope(factory) as session:
        renewed = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == claim.message_id, OutboxMessage.claim_token == claim.token,
                   OutboxMessage.state == OutboxState.SENDING)
            .values(sending_deadline=lease_until)
        ).rowcount
        if renewed:
            beat(session, claim.claimant, now)
    if not renewed:
        log.warning("outbox %s: claim lost before sending (reconciled meanwhile); not sent by %s",
                    claim.message_id, claim.claimant.worker_id)
        return None
    return Claim(claim.message_id, claim.token, claim.claimant, claim.claimed_at, lease_until)


def send_claimed(factory: sessionmaker[Session], providers: dict[str, Provider], claim: Claim,
                 snapshot: Snapshot, now_fn: Callable[[], datetime]) -> None:
    provider = providers.get(snapshot.channel)
    try:
        if provider is None:
            raise PermanentError(f"no provider for channel {snapshot.channel!r}")
        result = provider.send(snapshot)
    except TemporaryError as exc:
        _record_failure(factory, claim, snapshot, now_fn(), str(exc), exc.code, temporary=True,
                        retry_after=exc.retry_after)
    except PermanentError as exc:
        _record_failure(factory, claim, snapshot, now_fn(), str(exc), exc.code, temporary=False)
    except Exception as exc:  # an unexpected provider bug must not lose the message
        log.exception("provider %s crashed on outbox %s", snapshot.channel, claim.message_id)
        _record_failure(factory, claim, snapshot, now_fn(), f"{type(exc).__name__}: {exc}", None, temporary=True)
    else:
        _record_success(factory, claim, now_fn(), provider.name, result)


def _attempt(session: Session, message_id: int, now: datetime, kind: str, outcome: str, detail: str | None) -> None:
    session.add(OutboxAttempt(message_id=message_id, at=now, kind=kind, outcome=outcome, detail=detail))


def _mine(claim: Claim) -> tuple:
    return (OutboxMessage.id == claim.message_id, OutboxMessage.claim_token == claim.token)


def _record_success(factory: sessionmaker[Session], claim: Claim, now: datetime, provider: str,
                    result: SendResult) -> None:
    """Only the claimant records its send, and only while the row is still its claim."""
    with session_scope(factory) as session:
        msg = session.get(OutboxMessage, claim.message_id)
        _lock_owner(session, msg.source_kind, msg.payload)
        state = OutboxState.DELIVERED if result.final else OutboxState.SENT
        values = dict(provider=provider, provider_ref=result.ref, provider_status=result.status, state=state,
                      sent_at=now, updated_at=now, sending_deadline=None, last_error=None)
        if result.payload_update:
            values["payload"] = {**(msg.payload or {}), **result.payload_update}
        done = session.execute(update(OutboxMessage).where(*_mine(claim), OutboxMessage.state == OutboxState.SENDING)
                               .values(**values).execution_options(synchronize_session=False)).rowcount
        session.refresh(msg)
        detail = f"{provider} {result.ref or ''}".strip()
        channel, source, destination, ids = msg.channel, msg.source_kind, msg.destination, _source_ids(msg)
        if done:
            _attempt(session, msg.id, now, "attempt", "accepted", detail)
            for hook in _after_send.get(msg.source_kind or "", []):
                hook(session, msg, now)
        elif msg.claim_token == claim.token:
            # A status callback carrying our claim reference got here first and moved the row on.
            msg.provider = msg.provider or provider
            msg.provider_ref = msg.provider_ref or result.ref
            msg.sent_at = msg.sent_at or now
            _attempt(session, msg.id, now, "attempt", "accepted", detail + " (status reported before)")
        else:
            _attempt(session, msg.id, now, "attempt", "lost_claim",
                     f"{detail}: sent by {claim.claimant.worker_id} after its claim was reconciled")
            log.error("outbox %s: %s sent it after losing its claim (%s)", msg.id, claim.claimant.worker_id,
                      result.ref)
    if done:
        metrics.outbox_sent(channel, source)
        log.info("outbox %s: %s to %s accepted by %s %s", claim.message_id, channel, _masked(destination), provider,
                 result.ref or "", extra=logs.ids(outbox_id=claim.message_id, channel=channel, source=source, **ids))


def _record_failure(factory: sessionmaker[Session], claim: Claim, snapshot: Snapshot, now: datetime, error: str,
                    code: str | None, *, temporary: bool, retry_after: float | None = None) -> None:
    with session_scope(factory) as session:
        _lock_owner(session, snapshot.source_kind, snapshot.payload)
        msg = session.scalar(select(OutboxMessage).where(*_mine(claim), OutboxMessage.state == OutboxState.SENDING)
                             .with_for_update().execution_options(populate_existing=True))
        if msg is None:
            _attempt(session, claim.message_id, now, "attempt", "lost_claim", f"failure after the claim was lost: "
                     f"{error}"[:2000])
            return
        msg.last_error = error[:2000]
        msg.error_code = code
        msg.updated_at = now
        msg.sending_deadline = None
        if temporary and msg.attempts < msg.max_attempts:
            msg.state = OutboxState.PENDING
            msg.next_attempt_at = now + backoff(msg.attempts, retry_after)
            outcome = "retry"
        else:
            msg.state = OutboxState.FAILED if not temporary else OutboxState.DEAD
            outcome = msg.state
        _attempt(session, msg.id, now, "attempt", outcome, error[:2000])
        log.warning("outbox %s (%s to %s): %s -> %s", msg.id, msg.channel, _masked(msg.destination), error, outcome,
                    extra=logs.ids(outbox_id=msg.id, channel=msg.channel, source=msg.source_kind, **_source_ids(msg)))
        final = msg.state != OutboxState.PENDING
        if final:
            for hook in _after_status.get(msg.source_kind or "", []):
                hook(session, msg, now)
        channel, source = msg.channel, msg.source_kind
    if final:
        metrics.outbox_failed(channel, source)


# ------------------------------------------------------------------ reconciliation


def reconcile_stuck(factory: sessionmaker[Session], providers: dict[str, Provider], now: datetime,
                    claimant: Claimant | None = None) -> int:
    """Rows left in 'sending' by a claimant that is gone (lease over, no heartbeat): the provider may or
    may not have them.

    The reconciler first takes the row over (its own lease, fenced by the dead claim), so each row is
    reconciled by one worker while the others go on sending, and a reconciler killed in its turn is
    itself taken over when its lease runs out. A status callback that carried our claim reference may
    already have named the provider's id; otherwise a provider that can tell (Twilio: the exact message
    or call, by that reference or content) settles it: found, the row becomes 'sent' with the
    provider's id; not found, it is sent again. Where the provider cannot tell, the row is closed as
    'sent' with an unknown outcome rather than risking a second page; paging keeps escalating on its
    own timers when no report comes.
    """
    claimant = claimant or Claimant.new("reconcile")
    lease_until = now + LEASE
    with session_scope(factory) as session:
        gone = or_(WorkerHeartbeat.beat_at.is_(None), WorkerHeartbeat.beat_at < now - HEARTBEAT_TIMEOUT,
                   # ours, lease over: a takeover of ours the provider could not settle yet, or a send whose
                   # outcome we failed to record (the database refused it)
                   OutboxMessage.claimed_by == claimant.worker_id)
        candidates = list(session.execute(
            select(OutboxMessage.id, OutboxMessage.claim_token, OutboxMessage.sending_deadline)
            .outerjoin(WorkerHeartbeat, WorkerHeartbeat.worker_id == OutboxMessage.claimed_by)
            .where(OutboxMessage.state == OutboxState.SENDING, OutboxMessage.sending_deadline < now, gone)
            .order_by(OutboxMessage.id).limit(RECONCILE_BATCH)))
        if not candidates:
            return 0
        beat(session, claimant, now)
        taken = [message_id for message_id, token, deadline in candidates if session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.state == OutboxState.SENDING,
                   OutboxMessage.claim_token == token if token else OutboxMessage.claim_token.is_(None),
                   OutboxMessage.sending_deadline == deadline)
            .values(claimed_by=claimant.worker_id, sending_deadline=lease_until)).rowcount == 1]
        stuck = list(session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(taken))
                                     .order_by(OutboxMessage.id))) if taken else []
        known = {m.id: m.provider_ref for m in stuck}
        snapshots = [(Snapshot(m), m.claim_token) for m in stuck]
    for snap, token in snapshots:
        found: SendResult | None | bool
        if known[snap.id]:
            found = SendResult(ref=known[snap.id], status=None)
        else:
            found = _ask_provider(factory, providers.get(snap.channel), snap)
            if found is _NOT_YET:
                continue  # still ours: looked at again when our lease on it runs out
        _settle(factory, snap, token, lease_until, found, now)
    return len(snapshots)


_NOT_YET = object()


def _ask_provider(factory: sessionmaker[Session], provider: Provider | None, snap: Snapshot) -> object:
    reconcile = getattr(provider, "reconcile", None)
    if reconcile is None:
        return False  # cannot tell
    try:
        candidates = reconcile(snap) or []
    except Exception as exc:  # the provider is unreachable or cannot tell yet: try again on the next pass
        log.warning("cannot reconcile outbox %s yet: %s", snap.id, exc)
        return _NOT_YET
    if isinstance(candidates, SendResult):
        candidates = [candidates]
    refs = [c.ref for c in candidates if c.ref]
    with session_scope(factory) as session:
        # A provider id that another row already holds is that row's message, not this one's.
        taken = set(session.scalars(select(OutboxMessage.provider_ref).where(
            OutboxMessage.provider_ref.in_(refs), OutboxMessage.id != snap.id))) if refs else set()
    return next((c for c in candidates if c.ref not in taken), None)


def _settle(factory: sessionmaker[Session], snap: Snapshot, token: str | None, deadline: datetime,
            found: SendResult | None | bool, now: datetime) -> None:
    with session_scope(factory) as session:
        _lock_owner(session, snap.source_kind, snap.payload)
        # Fenced by our takeover: the claimant may have come back and recorded its send meanwhile, or
        # another reconciler took the row over after our lease ran out.
        fence = (OutboxMessage.id == snap.id, OutboxMessage.state == OutboxState.SENDING,
                 OutboxMessage.claim_token == token if token else OutboxMessage.claim_token.is_(None),
                 OutboxMessage.sending_deadline == deadline)
        if isinstance(found, SendResult):
            values = dict(state=OutboxState.SENT, provider_ref=found.ref, sent_at=now, last_error=None)
            if found.status:
                values["provider_status"] = found.status
            outcome, detail = "reconciled", f"the provider had it: {found.ref}"
        elif found is None:
            values = dict(state=OutboxState.PENDING, next_attempt_at=now)
            outcome, detail = "resend", "the provider never got it; sending again"
        else:
            values = dict(state=OutboxState.SENT, provider_status="unknown",
                          last_error="worker stopped while sending; outcome unknown, not resent")
            outcome, detail = "unknown", values["last_error"]
        if session.execute(update(OutboxMessage).where(*fence)
                           .values(sending_deadline=None, updated_at=now, **values)).rowcount == 1:
            _attempt(session, snap.id, now, "attempt", outcome, detail)


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
