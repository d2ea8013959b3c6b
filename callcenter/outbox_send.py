"""Sending claimed outbox rows and recording how it went.

A drained batch goes to its providers concurrently (a small thread pool per process: a Twilio request
waits ~100-300 ms on the network, so twenty pages one after another would take seconds), outside any
transaction. Its outcomes are then recorded in one transaction: the owners' locks first (paging: the
batch's alerts, in id order), then one conditional UPDATE per row and one INSERT of all the attempts.
Only the claimant records its send, and only while the row is still its claim (the token): a row that
moved on meanwhile (a status callback came first, or the claim was reconciled) takes the careful
one-row path. If recording the batch fails, each outcome is recorded alone, so one bad row cannot
leave the others in 'sending' until reconciliation.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Update, bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from . import bulk, logs, metrics
from .db import session_scope
from .models import OutboxAttempt, OutboxMessage, OutboxState
from .outbox import (
    LEASE,
    LEASE_MARGIN,
    Claim,
    Snapshot,
    _after_send,
    _after_status,
    _attempt,
    _lock_owner,
    _lock_owners,
    _masked,
    _source_ids,
    backoff,
    beat,
)
from .providers.base import PermanentError, Provider, SendResult, TemporaryError

log = logging.getLogger(__name__)

# Concurrent provider requests per process (requests' pool keeps 10 connections per host alive).
SEND_THREADS = 8
_pool: ThreadPoolExecutor | None = None
_pool_guard = threading.Lock()


@dataclass
class Outcome:
    claim: Claim
    snapshot: Snapshot | None  # None: recording a send made elsewhere (record_success)
    provider: str | None = None
    result: SendResult | None = None
    # (error text, provider's code, temporary?, retry after seconds) when the send failed
    error: tuple[str, str | None, bool, float | None] | None = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_guard:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=SEND_THREADS, thread_name_prefix="outbox-send")
        return _pool


def send_batch(factory: sessionmaker[Session], providers: dict[str, Provider], batch: list[tuple[Claim, Snapshot]],
               now_fn: Callable[[], datetime]) -> None:
    """Send a drained batch (each row while its claim still holds) and record the outcomes."""
    def send(pair: tuple[Claim, Snapshot]) -> Outcome | None:
        # The lease is checked (and renewed when short) just before each send, as the batch may wait
        # for free threads behind slow provider requests.
        claim = keep_lease(factory, pair[0], now_fn())
        return _send(providers, claim, pair[1]) if claim is not None else None

    def send_all(group: list[tuple[Claim, Snapshot]]) -> list[Outcome | None]:
        return [send(pair) for pair in group]

    groups = _in_order(batch)
    futures = []
    if len(groups) > 1 and SEND_THREADS > 1:
        pool = _executor()
        try:
            for group in groups:
                futures.append(pool.submit(send_all, group))
        except RuntimeError:  # the interpreter is exiting and starts no threads: the rest go from here
            pass
    sent = [o for future in futures for o in future.result()] + [o for g in groups[len(futures):] for o in send_all(g)]
    outcomes = [outcome for outcome in sent if outcome is not None]
    if not outcomes:
        return
    try:
        _record_all(factory, outcomes, now_fn())
    except Exception:
        log.exception("recording %d sends in one transaction failed; recording each alone", len(outcomes))
        for outcome in outcomes:
            try:
                _record_alone(factory, outcome, now_fn())
            except Exception:  # left in 'sending' under our claim: reconciled when the lease runs out
                log.exception("outbox %s: recording the send failed", outcome.claim.message_id)


def _in_order(batch: list[tuple[Claim, Snapshot]]) -> list[list[tuple[Claim, Snapshot]]]:
    """The batch in groups sent concurrently with each other, each group in its order: the e-mails to
    one address form one group (a reader follows a ticket's mails in the order they were written);
    every page (SMS, call) is a group of its own, as each stands alone and speed is what counts."""
    groups: list[list[tuple[Claim, Snapshot]]] = []
    mail_to: dict[str, list[tuple[Claim, Snapshot]]] = {}
    for pair in batch:
        snapshot = pair[1]
        if snapshot.channel != "email":
            groups.append([pair])
        elif snapshot.destination.lower() in mail_to:
            mail_to[snapshot.destination.lower()].append(pair)
        else:
            groups.append(mail_to.setdefault(snapshot.destination.lower(), [pair]))
    return groups


def send_claimed(factory: sessionmaker[Session], providers: dict[str, Provider], claim: Claim,
                 snapshot: Snapshot, now_fn: Callable[[], datetime]) -> None:
    """Send one claimed row and record the outcome in a transaction of its own."""
    _record_alone(factory, _send(providers, claim, snapshot), now_fn())


def record_success(factory: sessionmaker[Session], claim: Claim, now: datetime, provider: str,
                   result: SendResult) -> None:
    """Record one accepted send in a transaction of its own (only while the row is still the claim's)."""
    _record_alone(factory, Outcome(claim, None, provider, result), now)


def _send(providers: dict[str, Provider], claim: Claim, snapshot: Snapshot) -> Outcome:
    provider = providers.get(snapshot.channel)
    outcome = Outcome(claim, snapshot, provider.name if provider else None)
    try:
        if provider is None:
            raise PermanentError(f"no provider for channel {snapshot.channel!r}")
        outcome.result = provider.send(snapshot)
    except TemporaryError as exc:
        outcome.error = (str(exc), exc.code, True, exc.retry_after)
    except PermanentError as exc:
        outcome.error = (str(exc), exc.code, False, None)
    except Exception as exc:  # an unexpected provider bug must not lose the message
        log.exception("provider %s crashed on outbox %s", snapshot.channel, claim.message_id)
        outcome.error = (f"{type(exc).__name__}: {exc}", None, True, None)
    return outcome


def keep_lease(factory: sessionmaker[Session], claim: Claim, now: datetime) -> Claim | None:
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


def _record_alone(factory: sessionmaker[Session], outcome: Outcome, now: datetime) -> None:
    after: list[Callable[[], None]] = []
    with session_scope(factory) as session:
        _record(session, outcome, now, after)
    for done in after:
        done()


def _accepted_statement() -> Update:
    # Built once: constructing the expression per row cost more CPU than executing it.
    table = OutboxMessage.__table__
    return (table.update()
            .where(table.c.id == bindparam("message_id"), table.c.claim_token == bindparam("token"),
                   table.c.state == OutboxState.SENDING)
            .values(provider=bindparam("provider"), provider_ref=bindparam("ref"), provider_status=bindparam("status"),
                    state=bindparam("state"), sent_at=bindparam("now"), updated_at=bindparam("now"),
                    sending_deadline=None, last_error=None))


_ACCEPTED = _accepted_statement()


def _record_all(factory: sessionmaker[Session], outcomes: list[Outcome], now: datetime) -> None:
    after: list[Callable[[], None]] = []
    with session_scope(factory) as session:
        _lock_owners(session, [(o.snapshot.source_kind, o.snapshot.payload) for o in outcomes])
        attempts = []
        for o in outcomes:
            simple = (o.result is not None and not o.result.payload_update
                      and not _after_send.get(o.snapshot.source_kind or ""))
            if simple and session.execute(_ACCEPTED, {
                    "message_id": o.claim.message_id, "token": o.claim.token, "provider": o.provider,
                    "ref": o.result.ref, "status": o.result.status, "now": now,
                    "state": OutboxState.DELIVERED if o.result.final else OutboxState.SENT}).rowcount == 1:
                attempts.append(dict(message_id=o.claim.message_id, at=now, kind="attempt", outcome="accepted",
                                     detail=f"{o.provider} {o.result.ref or ''}".strip()))
                after.append(lambda o=o: _log_accepted(o.snapshot, o.provider, o.result))
            else:
                _record(session, o, now, after)
        bulk.insert_rows(session, OutboxAttempt, attempts)
    for done in after:
        done()


def _record(session: Session, outcome: Outcome, now: datetime, after: list[Callable[[], None]]) -> None:
    if outcome.error is None:
        _record_success(session, outcome.claim, now, outcome.provider, outcome.result, after)
    else:
        error, code, temporary, retry_after = outcome.error
        _record_failure(session, outcome.claim, outcome.snapshot, now, error, code, temporary=temporary,
                        retry_after=retry_after, after=after)


def _accepted(provider: str, result: SendResult, now: datetime) -> dict:
    return dict(provider=provider, provider_ref=result.ref, provider_status=result.status,
                state=OutboxState.DELIVERED if result.final else OutboxState.SENT, sent_at=now, updated_at=now,
                sending_deadline=None, last_error=None)


def _log_accepted(snapshot: Snapshot, provider: str, result: SendResult) -> None:
    channel, source = snapshot.channel, snapshot.source_kind
    metrics.outbox_sent(channel, source)
    ids = {"alert_id": snapshot.payload.get("alert_id"), "page_id": snapshot.payload.get("page_id"),
           "ticket_id": snapshot.source_id if source == "mail" else None}
    log.info("outbox %s: %s to %s accepted by %s %s", snapshot.id, channel, _masked(snapshot.destination), provider,
             result.ref or "", extra=logs.ids(outbox_id=snapshot.id, channel=channel, source=source, **ids))


def _mine(claim: Claim) -> tuple:
    return (OutboxMessage.id == claim.message_id, OutboxMessage.claim_token == claim.token)


def _record_success(session: Session, claim: Claim, now: datetime, provider: str, result: SendResult,
                    after: list[Callable[[], None]]) -> None:
    """Only the claimant records its send, and only while the row is still its claim."""
    msg = session.get(OutboxMessage, claim.message_id)
    _lock_owner(session, msg.source_kind, msg.payload)
    values = _accepted(provider, result, now)
    if result.payload_update:
        values["payload"] = {**(msg.payload or {}), **result.payload_update}
    done = session.execute(update(OutboxMessage).where(*_mine(claim), OutboxMessage.state == OutboxState.SENDING)
                           .values(**values).execution_options(synchronize_session=False)).rowcount
    session.refresh(msg)
    detail = f"{provider} {result.ref or ''}".strip()
    if done:
        _attempt(session, msg.id, now, "attempt", "accepted", detail)
        for hook in _after_send.get(msg.source_kind or "", []):
            hook(session, msg, now)
        snapshot = Snapshot(msg, claim)
        after.append(lambda: _log_accepted(snapshot, provider, result))
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


def _record_failure(session: Session, claim: Claim, snapshot: Snapshot, now: datetime, error: str,
                    code: str | None, *, temporary: bool, retry_after: float | None,
                    after: list[Callable[[], None]]) -> None:
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
    if msg.state != OutboxState.PENDING:
        for hook in _after_status.get(msg.source_kind or "", []):
            hook(session, msg, now)
        channel, source = msg.channel, msg.source_kind
        after.append(lambda: metrics.outbox_failed(channel, source))
