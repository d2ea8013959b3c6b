"""Calls service: hotline calls, their tickets and the watched queue (recordings: callcenter.recordings).

Channel-neutral: the Twilio and Asterisk adapters (through the flow engine) call these with a
session and an explicit `now`. Callbacks are idempotent and tolerate any order: a call or
recording row is created by whichever report arrives first.

Everything that changes a call first takes the call's row lock (`lock_call`: PostgreSQL's
SELECT ... FOR UPDATE, SQLite's write lock) and reads the call inside it, so two webhooks for one
call (a Twilio retry, a <Record> action racing the status callback) run one after the other. Lock
order: the call, then what hangs off it (its ticket, timers, alerts). A turn never waits for a timer
being fired: the timer's handler takes the call's lock itself and looks again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import events, timers
from .call_insert import CallInsert, insert_call, write_new_call  # noqa: F401 (the calls API)
from .customers import Identity, identify_caller, is_office_hours, try_normalize_phone
from .db import begin_write
from .directory import cached_identity, identify_caller_cached, identity_of_call
from .models import (
    Asset,
    Call,
    CallOutcome,
    Channel,
    Company,
    Contact,
    Contract,
    Ticket,
    Timer,
)
from .tickets import SYSTEM, Actor, NewTicket, create_ticket

log = logging.getLogger(__name__)

QUEUE_WATCH = "hotline.queue_watch"
# Provider call statuses that end a call; once seen, earlier statuses never reopen it.
FINAL_STATUSES = {"completed", "busy", "failed", "no-answer", "canceled"}


class CallNotFound(LookupError):
    pass


@dataclass
class CallContext(Identity):
    """A call with who is calling and what their contract says, as the engine needs it."""

    call: Call
    # Set when the identity came from this process's cache unchecked: the directory version it assumes.
    assumed_directory_version: int | None = None

    @property
    def is_standby(self) -> bool:
        return self.contract is not None and self.contract.is_standby

    @property
    def no_answer_threshold(self) -> int:
        return self.contract.no_answer_threshold_seconds if self.contract else 600


def _timer_key(call: Call) -> str:
    return f"hotline-queue:{call.id}"


def get_call(session: Session, provider_call_id: str) -> Call | None:
    """The call as this session sees it, without a lock: for reading only (see `lock_call`)."""
    return session.scalar(select(Call).where(Call.provider_call_id == provider_call_id))


def lock_call(session: Session, provider_call_id: str | None = None, *, call_id: int | None = None,
              skip_locked: bool = False) -> Call | None:
    """The call, locked until the end of the transaction and read afresh inside the lock.

    PostgreSQL: SELECT ... FOR UPDATE on its row (`skip_locked`: None when another transaction holds it).
    SQLite: the database's write lock, taken before reading (one writer at a time anyway).
    """
    where = Call.id == call_id if call_id is not None else Call.provider_call_id == provider_call_id
    stmt = select(Call).where(where).execution_options(populate_existing=True)
    if session.get_bind().dialect.name == "sqlite":
        begin_write(session)
    else:
        stmt = stmt.with_for_update(skip_locked=skip_locked)
    return session.scalar(stmt)


def lock_or_create(session: Session, channel: str, provider_call_id: str, now: datetime,
                   caller: str | None = None, called: str | None = None) -> Call:
    """The call locked; a bare row when a callback arrives before the call's first webhook."""
    call = lock_call(session, provider_call_id)
    if call is not None:
        return call
    call = Call(channel=channel, provider_call_id=provider_call_id, caller_number=caller, called_number=called,
                arrived_at=now, menu_path="", status_sequence=-1, menu_attempts=0)
    try:
        with session.begin_nested():
            session.add(call)
        return call  # a row this transaction inserted is locked by it until commit
    except IntegrityError:
        # A concurrent callback for the same call created it a moment ago.
        return lock_call(session, provider_call_id)


def start_call(session: Session, *, channel: str, provider_call_id: str, caller: str | None,
               called: str | None = None, now: datetime, default_language: str = "en",
               languages: tuple[str, ...] = ("hu", "el", "en"), owner: str | None = None) -> CallContext:
    """Register an incoming call (once: a retried webhook finds the same row) and identify the caller."""
    # The new call is the common case: identify first and write the row once, complete; a retried
    # webhook or an earlier status callback makes the INSERT fail and we take the existing row.
    identity = identify_caller(session, caller, now)
    call = Call(channel=channel, provider_call_id=provider_call_id, caller_number=caller, called_number=called,
                arrived_at=now, menu_path="", status_sequence=-1, menu_attempts=0, owner=owner, last_seen_at=now)
    _apply_identity(call, identity, now, default_language, languages)
    try:
        with session.begin_nested():
            session.add(call)
        return _context_from_identity(call, identity)
    except IntegrityError:
        call = lock_call(session, provider_call_id)
    if call.caller_number is None and caller:
        call.caller_number = caller
    call.last_seen_at = now
    if call.owner is None:
        call.owner = owner
    if call.step is None:
        _apply_identity(call, identity, now, default_language, languages)
        session.flush()
        return _context_from_identity(call, identity)
    return context(session, call)


def new_call(session: Session, *, channel: str, provider_call_id: str, caller: str | None,
             called: str | None = None, now: datetime, default_language: str = "en",
             languages: tuple[str, ...] = ("hu", "el", "en"), trust_cache: bool = False,
             owner: str | None = None) -> CallContext:
    """An identified incoming call, not written yet: `insert_call` writes it once the first turn is decided.

    The row is then written in one statement at the end of the unit of work, so a SQLite writer holds
    the write lock only for the INSERT and the commit, not while the flow decides. Who is calling comes
    from the directory cache: its objects are read-only snapshots, only their ids go into the row.
    `trust_cache`: a cached identity is taken without reading the directory's version first; the
    INSERT reads it, and `FlowEngine.start` starts over when it moved. `owner`: the AGI process serving
    the call (callcenter.call_presence), so that the call is closed if that process dies.
    """
    cached = cached_identity(session.get_bind(), caller, now) if trust_cache else None
    identity, assumed = cached if cached is not None else (identify_caller_cached(session, caller, now), None)
    return _new_context(identity, assumed, channel=channel, provider_call_id=provider_call_id, caller=caller,
                        called=called, now=now, default_language=default_language, languages=languages,
                        owner=owner)


def new_cached_call(bind: Engine, *, channel: str, provider_call_id: str, caller: str | None,
                    called: str | None = None, now: datetime, default_language: str = "en",
                    languages: tuple[str, ...] = ("hu", "el", "en"), owner: str | None = None) -> CallContext | None:
    """`new_call` from this process's directory cache alone, no session: None when the caller's number
    is not cached. Its `assumed_directory_version` must be checked when the row is written
    (`write_new_call` does)."""
    cached = cached_identity(bind, caller, now)
    if cached is None:
        return None
    return _new_context(*cached, channel=channel, provider_call_id=provider_call_id, caller=caller, called=called,
                        now=now, default_language=default_language, languages=languages, owner=owner)


def _new_context(identity: Identity, assumed: int | None, *, channel: str, provider_call_id: str,
                 caller: str | None, called: str | None, now: datetime, default_language: str,
                 languages: tuple[str, ...], owner: str | None) -> CallContext:
    call = Call(channel=channel, provider_call_id=provider_call_id, caller_number=caller, called_number=called,
                arrived_at=now, menu_path="", status_sequence=-1, menu_attempts=0, owner=owner, last_seen_at=now)
    _apply_identity(call, identity, now, default_language, languages)
    ctx = _context_from_identity(call, identity)
    ctx.assumed_directory_version = assumed
    return ctx


def forget_call(session: Session, call: Call) -> None:
    """Take back a row `insert_call` wrote in this transaction (it was identified from a stale cache)."""
    session.execute(delete(Call).where(Call.id == call.id))
    call.id = None


def _apply_identity(call: Call, identity: Identity, now: datetime, default_language: str,
                    languages: tuple[str, ...]) -> None:
    call.contact_id = identity.contact.id if identity.contact else None
    call.company_id = identity.company.id if identity.company else None
    call.contract_id = identity.contract.id if identity.contract else None
    call.asset_id = identity.asset.id if identity.asset else None
    wanted = identity.contact.language if identity.contact else None
    call.language = wanted if wanted in languages else default_language
    call.out_of_hours = bool(identity.contract and not is_office_hours(identity.contract, now))
    call.step = "start"


def _context_from_identity(call: Call, identity: Identity) -> CallContext:
    return CallContext(identity.contact, identity.company, identity.contract, identity.asset, call=call)


def context(session: Session, call: Call) -> CallContext:
    cached = identity_of_call(session, call)
    if cached is not None:
        return CallContext(cached.contact, cached.company, cached.contract, cached.asset, call=call)
    return CallContext(
        session.get(Contact, call.contact_id) if call.contact_id else None,
        session.get(Company, call.company_id) if call.company_id else None,
        session.get(Contract, call.contract_id) if call.contract_id else None,
        session.get(Asset, call.asset_id) if call.asset_id else None,
        call=call,
    )


def log_menu(call: Call, token: str) -> None:
    call.menu_path = f"{call.menu_path}>{token}" if call.menu_path else token
    if len(call.menu_path) > 200:
        call.menu_path = call.menu_path[-200:]


# Outcomes only move forward: a report that arrives late (a status callback after the call's last turn,
# a retried webhook) never replaces what the call already came to. A higher rank replaces a lower one;
# the first of equal rank stays. Outcomes not listed are decisions the caller made or got: rank 4.
OUTCOME_RANK: dict[str, int] = {
    CallOutcome.HANGUP_IN_MENU: 1, CallOutcome.NO_INPUT: 1,
    CallOutcome.CRITICAL_QUEUED: 2,
    CallOutcome.ABANDONED_IN_QUEUE: 3, CallOutcome.UNANSWERED: 3, CallOutcome.LOST: 3,
}
DECIDED = 4


def outcome_rank(outcome: str | None) -> int:
    return 0 if outcome is None else OUTCOME_RANK.get(outcome, DECIDED)


def set_outcome(call: Call, outcome: str) -> bool:
    """Move the call's outcome forward to `outcome`; False (nothing changed) when it would move back."""
    if outcome == call.outcome:
        return False
    rank = outcome_rank(outcome)
    if rank <= outcome_rank(call.outcome):
        return False
    call.outcome = outcome
    if rank == DECIDED and call.callback_state == "pending":
        # Ended as a missed call a moment ago (the status callback won the race), then the caller's last
        # turn arrived: a message left, an agent reached. Nobody needs to call them back.
        call.callback_state = None
    return True


def _new_ticket(ctx: CallContext, category: str, priority: str, subject: str, description: str) -> NewTicket:
    contact = ctx.contact
    return NewTicket(
        subject=subject, channel=Channel.PHONE, category=category, priority=priority, description=description,
        company_id=ctx.company.id if ctx.company else None,
        reporter_contact_id=contact.id if contact else None,
        reporter_phone=try_normalize_phone(ctx.call.caller_number) or ctx.call.caller_number,
        asset_id=ctx.asset.id if ctx.asset else None,
    )


def _actor(ctx: CallContext) -> Actor:
    if ctx.contact is not None:
        return Actor("contact", ctx.contact.id, ctx.contact.name)
    return SYSTEM


def _description(ctx: CallContext, headline: str) -> str:
    call = ctx.call
    lines = [headline, f"Call {call.channel} {call.provider_call_id} from {call.caller_number or 'unknown number'}."]
    if ctx.asset is not None:
        lines.append(f"Machine: {ctx.asset.identifier} ({ctx.asset.model or ctx.asset.kind}).")
    if call.out_of_hours:
        lines.append("Reported out of hours.")
    return "\n".join(lines)


def open_critical_ticket(session: Session, ctx: CallContext, *, category: str, priority: str, subject: str,
                         now: datetime, number_start: int = 15000) -> Ticket:
    """The critical-fault ticket of this call, opened once; paging hears of it at once."""
    call = ctx.call
    if call.ticket_id is not None:
        return session.get(Ticket, call.ticket_id)
    ticket = create_ticket(session, _new_ticket(ctx, category, priority, subject,
                                                _description(ctx, "Critical fault reported on the hotline.")),
                           actor=_actor(ctx), now=now, number_start=number_start)
    call.ticket_id = ticket.id
    session.flush()
    events.publish(session, events.CriticalFaultReported(
        ticket_id=ticket.id, company_id=ticket.company_id, call_id=call.id, out_of_hours=call.out_of_hours, now=now))
    return ticket


# ---------------------------------------------------------------------------- the watched queue


def enter_queue(session: Session, ctx: CallContext, now: datetime) -> Call:
    """The caller waits for an agent; a durable timer watches the contract's no-answer threshold.

    A call that already ended (its caller pressed the key and hung up, and the status callback was
    quicker) does not join the queue: it is a caller who left it."""
    call = ctx.call
    if call.ended_at is not None:
        set_outcome(call, CallOutcome.ABANDONED_IN_QUEUE)
        return call
    if call.queue_entered_at is None:
        call.queue_entered_at = now
    timers.schedule(session, key=_timer_key(call), kind=QUEUE_WATCH, due_at=queue_deadline(ctx),
                    now=now, payload={"call_id": call.id})
    session.flush()
    events.publish(session, events.CallQueued(call_id=call.id, now=now))
    return call


def queue_deadline(ctx: CallContext, entering_at: datetime | None = None) -> datetime | None:
    """When the contract's no-answer threshold passes for a queued caller; `entering_at`: for a caller
    not queued yet, as if they entered then. None when neither."""
    entered = ctx.call.queue_entered_at or entering_at
    if entered is None:
        return None
    return entered + timedelta(seconds=ctx.no_answer_threshold)


def raise_unanswered(session: Session, call: Call, now: datetime, waited: int | None = None) -> bool:
    """Publish HotlineUnanswered once per call (timer, Twilio wait poll or Asterisk Queue timeout)."""
    claimed = session.execute(
        update(Call).where(Call.id == call.id, Call.unanswered_alerted_at.is_(None), Call.answered_at.is_(None))
        .values(unanswered_alerted_at=now).execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        return False
    session.refresh(call)
    if waited is None:
        waited = int((now - call.queue_entered_at).total_seconds()) if call.queue_entered_at else 0
    events.publish(session, events.HotlineUnanswered(
        call_id=call.id, ticket_id=call.ticket_id, company_id=call.company_id, waited_seconds=waited, now=now))
    log.info("hotline call %s unanswered after %s s: alert raised", call.provider_call_id, waited)
    return True


def queue_timer_key(call: Call) -> str:
    return _timer_key(call)


def _cancel_queue_watch(session: Session, call: Call, now: datetime) -> None:
    """Cancel the call's queue timer unless a worker is firing it right now: the timer handler locks the
    call after the timer (timer, then call), so waiting here for the timer (call, then timer) could
    deadlock. The handler then finds the call out of the queue and does nothing."""
    key = _timer_key(call)
    if session.get_bind().dialect.name == "sqlite":
        timers.cancel(session, key, now)
        return
    free = select(Timer.id).where(Timer.key == key, Timer.fired_at.is_(None), Timer.cancelled_at.is_(None)) \
        .with_for_update(skip_locked=True).scalar_subquery()
    session.execute(update(Timer).where(Timer.id == free).values(cancelled_at=now)
                    .execution_options(synchronize_session=False))


def leave_queue(session: Session, call: Call, now: datetime, waited: int | None = None) -> None:
    if call.queue_entered_at is not None and call.queue_left_at is None:
        call.queue_left_at = now
        call.wait_seconds = waited if waited is not None else int((now - call.queue_entered_at).total_seconds())
    _cancel_queue_watch(session, call, now)


def mark_answered(session: Session, call: Call, now: datetime, waited: int | None = None) -> None:
    """An agent took the call (the queue bridged it)."""
    if call.answered_at is None:
        call.answered_at = (call.queue_entered_at + timedelta(seconds=waited)
                            if waited is not None and call.queue_entered_at else now)
    leave_queue(session, call, now, waited)
    set_outcome(call, CallOutcome.ANSWERED)


# ---------------------------------------------------------------------------- end of call


def end_call(session: Session, call: Call, now: datetime, duration: int | None = None) -> Call:
    """The call is over (caller hung up, flow ended, provider said completed); safe to repeat."""
    if call.waiting_in_queue:
        leave_queue(session, call, now)
        if call.answered_at is None:
            set_outcome(call, CallOutcome.ABANDONED_IN_QUEUE)
    elif call.queue_entered_at is not None:
        _cancel_queue_watch(session, call, now)
    first_end = call.ended_at is None
    if first_end:
        call.ended_at = now
    if duration is not None:
        call.duration_seconds = duration
    set_outcome(call, CallOutcome.HANGUP_IN_MENU)
    if first_end:
        # No flush first: the handlers see this call in the session, and their first query flushes the
        # end together with what they change on the row (one UPDATE instead of two).
        events.publish(session, events.CallEnded(call_id=call.id, now=now))
    return call


def status_callback(session: Session, *, provider_call_id: str, status: str, now: datetime,
                    sequence: int | None = None, duration: int | None = None, caller: str | None = None,
                    called: str | None = None, channel: str = "twilio") -> Call:
    """Provider call status report: duplicates and older reports (lower SequenceNumber) change nothing."""
    call = lock_or_create(session, channel, provider_call_id, now, caller, called)
    call.last_seen_at = now
    if sequence is not None:
        if sequence <= call.status_sequence:
            return call
        call.status_sequence = sequence
    if call.provider_status in FINAL_STATUSES and status not in FINAL_STATUSES:
        return call  # a late 'ringing' after 'completed'
    if call.ended_at is not None and status not in FINAL_STATUSES:
        return call  # the call was closed meanwhile (lost): a late 'in-progress' does not reopen it
    call.provider_status = status
    if status in FINAL_STATUSES:
        end_call(session, call, now, duration)
    return call
