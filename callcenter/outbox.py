"""The outbox: outgoing SMS, calls, e-mails and downloads as rows, sent by workers with retries.

Services enqueue in their own transaction (so a webhook or a ticket change never does network
I/O); `drain` claims due rows with a conditional UPDATE, calls the provider outside any
transaction, then records the outcome. Any number of workers may drain at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from . import logs, metrics
from .db import session_scope
from .models import OutboxAttempt, OutboxMessage, OutboxState
from .providers.base import PermanentError, Provider, SendResult, TemporaryError

log = logging.getLogger(__name__)

SENDING_TIMEOUT = timedelta(minutes=2)
MAX_BACKOFF = timedelta(minutes=15)

# source_kind -> callback(session, message, now) run after a send was accepted or finally failed,
# so the service that asked (paging, recordings) can react in its own terms.
SentHook = Callable[[Session, OutboxMessage, datetime], None]
_after_send: dict[str, list[SentHook]] = {}
_after_status: dict[str, list[SentHook]] = {}


def on_sent(source_kind: str, hook: SentHook) -> None:
    hooks = _after_send.setdefault(source_kind, [])
    if hook not in hooks:
        hooks.append(hook)


def on_status(source_kind: str, hook: SentHook) -> None:
    """Hook for provider status reports (delivered, failed, no-answer ...) of this source's messages."""
    hooks = _after_status.setdefault(source_kind, [])
    if hook not in hooks:
        hooks.append(hook)


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


def claim_due(session: Session, now: datetime, limit: int = 20) -> list[int]:
    """Claim up to `limit` due messages; each row goes to exactly one worker."""
    candidates = list(session.scalars(
        select(OutboxMessage.id)
        .where(OutboxMessage.state == OutboxState.PENDING, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ))
    claimed = []
    for message_id in candidates:
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.state == OutboxState.PENDING)
            .values(state=OutboxState.SENDING, attempts=OutboxMessage.attempts + 1, updated_at=now,
                    sending_deadline=now + SENDING_TIMEOUT)
        )
        if result.rowcount == 1:
            claimed.append(message_id)
    return claimed


def drain(factory: sessionmaker[Session], providers: dict[str, Provider], now_fn: Callable[[], datetime],
          limit: int = 20) -> int:
    """One pass: claim due rows, send each outside a transaction, record the outcome."""
    reconcile_stuck(factory, providers, now_fn())
    with session_scope(factory) as session:
        ids = claim_due(session, now_fn(), limit)
    for message_id in ids:
        with session_scope(factory) as session:
            msg = session.get(OutboxMessage, message_id)
            snapshot = _Snapshot(msg)
        provider = providers.get(snapshot.channel)
        try:
            if provider is None:
                raise PermanentError(f"no provider for channel {snapshot.channel!r}")
            result = provider.send(snapshot)
        except TemporaryError as exc:
            _record_failure(factory, message_id, now_fn(), str(exc), exc.code, temporary=True,
                            retry_after=exc.retry_after)
        except PermanentError as exc:
            _record_failure(factory, message_id, now_fn(), str(exc), exc.code, temporary=False)
        except Exception as exc:  # an unexpected provider bug must not lose the message
            log.exception("provider %s crashed on outbox %s", snapshot.channel, message_id)
            _record_failure(factory, message_id, now_fn(), f"{type(exc).__name__}: {exc}", None, temporary=True)
        else:
            _record_success(factory, message_id, now_fn(), provider.name, result)
    return len(ids)


class _Snapshot:
    """A detached copy of a message for the provider, so no session is open during network I/O."""

    def __init__(self, msg: OutboxMessage) -> None:
        self.id = msg.id
        self.idempotency_key = msg.idempotency_key
        self.channel = msg.channel
        self.destination = msg.destination
        self.payload = dict(msg.payload or {})
        self.attempts = msg.attempts
        self.source_kind = msg.source_kind
        self.source_id = msg.source_id


def _attempt(session: Session, message_id: int, now: datetime, kind: str, outcome: str, detail: str | None) -> None:
    session.add(OutboxAttempt(message_id=message_id, at=now, kind=kind, outcome=outcome, detail=detail))


def _record_success(factory: sessionmaker[Session], message_id: int, now: datetime, provider: str,
                    result: SendResult) -> None:
    with session_scope(factory) as session:
        msg = session.get(OutboxMessage, message_id)
        msg.provider = provider
        msg.provider_ref = result.ref
        msg.provider_status = result.status
        msg.state = OutboxState.DELIVERED if result.final else OutboxState.SENT
        msg.sent_at = msg.updated_at = now
        msg.sending_deadline = None
        msg.last_error = None
        if result.payload_update:
            msg.payload = {**(msg.payload or {}), **result.payload_update}
        _attempt(session, message_id, now, "attempt", "accepted", f"{provider} {result.ref or ''}".strip())
        for hook in _after_send.get(msg.source_kind or "", []):
            hook(session, msg, now)
        channel, source = msg.channel, msg.source_kind
    metrics.outbox_sent(channel, source)
    log.info("outbox %s: %s to %s accepted by %s %s", message_id, channel, _masked(msg.destination), provider,
             result.ref or "", extra=logs.ids(outbox_id=message_id, channel=channel, source=source,
                                             **_source_ids(msg)))


def _record_failure(factory: sessionmaker[Session], message_id: int, now: datetime, error: str, code: str | None,
                    *, temporary: bool, retry_after: float | None = None) -> None:
    with session_scope(factory) as session:
        msg = session.get(OutboxMessage, message_id)
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
        _attempt(session, message_id, now, "attempt", outcome, error[:2000])
        log.warning("outbox %s (%s to %s): %s -> %s", message_id, msg.channel, msg.destination, error, outcome,
                    extra=logs.ids(outbox_id=message_id, channel=msg.channel, source=msg.source_kind,
                                            **_source_ids(msg)))
        final = msg.state != OutboxState.PENDING
        if final:
            for hook in _after_status.get(msg.source_kind or "", []):
                hook(session, msg, now)
        channel, source = msg.channel, msg.source_kind
    if final:
        metrics.outbox_failed(channel, source)


class _Stuck(_Snapshot):
    def __init__(self, msg: OutboxMessage) -> None:
        super().__init__(msg)
        self.deadline = msg.sending_deadline
        self.claimed_at = msg.sending_deadline - SENDING_TIMEOUT


def reconcile_stuck(factory: sessionmaker[Session], providers: dict[str, Provider], now: datetime) -> int:
    """Rows left in 'sending' by a worker that died mid-send: the provider may or may not have them.

    A provider that can tell (Twilio: list the messages and calls to that number since the claim)
    settles it: found, the row becomes 'sent' with the provider's id; not found, it is sent again.
    Where the provider cannot tell, the row is closed as 'sent' with an unknown outcome rather than
    risking a second page; paging keeps escalating on its own timers when no delivery report comes.
    """
    with session_scope(factory) as session:
        stuck = [_Stuck(m) for m in session.scalars(select(OutboxMessage).where(
            OutboxMessage.state == OutboxState.SENDING, OutboxMessage.sending_deadline < now))]
    for snap in stuck:
        reconcile = getattr(providers.get(snap.channel), "reconcile", None)
        found: SendResult | None | bool = False  # False: cannot tell
        if reconcile is not None:
            try:
                found = reconcile(snap)
            except Exception as exc:  # the provider is unreachable: try again on the next pass
                log.warning("cannot reconcile outbox %s yet: %s", snap.id, exc)
                continue
        with session_scope(factory) as session:
            # Fenced by the old deadline: another worker may have settled (and re-claimed) it meanwhile.
            fence = (OutboxMessage.id == snap.id, OutboxMessage.state == OutboxState.SENDING,
                     OutboxMessage.sending_deadline == snap.deadline)
            if isinstance(found, SendResult):
                values = dict(state=OutboxState.SENT, provider_ref=found.ref, provider_status=found.status,
                              sent_at=now, last_error=None)
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
    return len(stuck)


# Provider statuses that end a message, and whether they count as reaching the person.
FINAL_STATUSES = {
    "delivered": OutboxState.DELIVERED, "read": OutboxState.DELIVERED, "completed": OutboxState.DELIVERED,
    "undelivered": OutboxState.FAILED, "failed": OutboxState.FAILED, "busy": OutboxState.FAILED,
    "no-answer": OutboxState.FAILED, "canceled": OutboxState.FAILED,
}


def record_status(session: Session, provider_ref: str, status: str, now: datetime, *,
                  sequence: int | None = None, error_code: str | None = None,
                  detail: str | None = None) -> OutboxMessage | None:
    """Apply a provider status report; late or repeated reports never move a message backwards."""
    msg = session.scalar(select(OutboxMessage).where(OutboxMessage.provider_ref == provider_ref))
    if msg is None:
        return None
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
