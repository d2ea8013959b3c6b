"""Reconciling the outbox: rows left in 'sending' by a claimant that is gone.

A row is reconciled only when its lease ran out *and* its claimant stopped beating
(`worker_heartbeats`): a slow worker is never mistaken for a dead one. The provider is asked for the
exact message first (our claim reference travels with every Twilio request), so a page that Twilio
accepted before its sender died is not sent again.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from .db import session_scope
from .models import OutboxMessage, OutboxState, WorkerHeartbeat
from .outbox import HEARTBEAT_TIMEOUT, LEASE, RECONCILE_BATCH, Claimant, Snapshot, _attempt, _lock_owner, beat
from .providers.base import Provider, SendResult

log = logging.getLogger(__name__)


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


