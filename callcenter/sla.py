"""The SLA response clock of tickets: targets per contract and category, deadlines, breaches.

The arithmetic lives in `sla_clock`; this module decides which calendar and target apply and
derives pauses from the ticket's append-only status history.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import holidays
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from .customers import around_the_clock, calendar_for
from .models import PAUSED_STATUSES, ClockKind, Contract, SlaTarget, Ticket, TicketEvent
from .sla_clock import WorkingCalendar, add_working_time, pauses_from_history, working_time_between


@dataclass(frozen=True)
class ResponseTarget:
    minutes: int
    clock: str
    warn_percent: int = 75

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.minutes)


def response_target(contract: Contract, category: str) -> ResponseTarget | None:
    """The contract's target for a category; categories without one fall back to the user target."""
    targets = {t.category: t for t in contract.sla_targets}
    target = targets.get(category) or targets.get("user")
    if target is None:
        return None
    return ResponseTarget(target.response_minutes, target.clock, target.warn_percent)


def clock_calendar(contract: Contract, clock: str) -> WorkingCalendar:
    if clock == ClockKind.CALENDAR:
        return around_the_clock(contract)
    return calendar_for(contract)


def due_for(contract: Contract, category: str, start: datetime) -> datetime | None:
    """Deadline for a ticket of this category created at `start` (no pauses)."""
    target = response_target(contract, category)
    if target is None:
        return None
    return add_working_time(start, target.duration, clock_calendar(contract, target.clock))


def status_pauses_many(session: Session, tickets: list[Ticket]) -> dict[int, list[tuple[datetime, datetime | None]]]:
    """`status_pauses` for a page of tickets in one query (the queue shows fifty clocks at once)."""
    history: dict[int, list[tuple[datetime, str]]] = {t.id: [] for t in tickets}
    if tickets:
        rows = session.execute(
            select(TicketEvent.ticket_id, TicketEvent.at, TicketEvent.changes)
            .where(TicketEvent.ticket_id.in_(list(history)), TicketEvent.kind == "status")
            .order_by(TicketEvent.ticket_id, TicketEvent.at, TicketEvent.id)).all()
        for ticket_id, at, changes in rows:
            if "status" in (changes or {}):
                history[ticket_id].append((at, changes["status"][1]))
    return {t.id: [p for p in pauses_from_history(history[t.id], PAUSED_STATUSES)
                   if t.sla_started_at is None or p[1] is None or p[1] > t.sla_started_at] for t in tickets}


def status_pauses(session: Session, ticket: Ticket, since: datetime) -> list[tuple[datetime, datetime | None]]:
    rows = session.execute(
        select(TicketEvent.at, TicketEvent.changes)
        .where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "status")
        .order_by(TicketEvent.at, TicketEvent.id)
    ).all()
    transitions = [(at, changes["status"][1]) for at, changes in rows if "status" in (changes or {})]
    return [p for p in pauses_from_history(transitions, PAUSED_STATUSES) if p[1] is None or p[1] > since]


def refresh_ticket_sla(session: Session, ticket: Ticket, now: datetime,
                       pauses: list[tuple[datetime, datetime | None]] | None = None) -> None:
    """Recompute the response deadline from the contract, category and status history.

    `pauses` may be given when the caller knows them (a new ticket has none), saving a query.
    """
    contract = ticket.contract
    if contract is None or ticket.sla_started_at is None:
        ticket.sla_response_minutes = ticket.sla_clock = ticket.response_due_at = None
        ticket.sla_paused = False
        return
    target = response_target(contract, ticket.category)
    if target is None:
        ticket.sla_response_minutes = ticket.sla_clock = ticket.response_due_at = None
        ticket.sla_paused = False
        return
    ticket.sla_response_minutes = target.minutes
    ticket.sla_clock = target.clock
    if ticket.responded_at is not None:
        ticket.sla_paused = False
        keep_response_minutes(session, ticket)
        return
    if pauses is None:
        session.flush()
        pauses = status_pauses(session, ticket, ticket.sla_started_at)
    due = add_working_time(ticket.sla_started_at, target.duration, clock_calendar(contract, target.clock), pauses)
    ticket.sla_paused = due is None
    ticket.response_due_at = due
    if due is not None and due <= now:
        ticket.response_breached = True


@dataclass(frozen=True)
class SlaState:
    due_at: datetime | None
    remaining: timedelta | None   # working time left (negative once breached)
    breached: bool
    paused: bool
    responded_at: datetime | None


def sla_state(session: Session, ticket: Ticket, now: datetime,
              pauses: list[tuple[datetime, datetime | None]] | None = None) -> SlaState:
    """Where the ticket's response clock stands at `now`, in the contract's working time; `pauses` may
    be given when the caller loaded them for many tickets at once (`status_pauses_many`)."""
    contract = ticket.contract
    if contract is None or ticket.sla_response_minutes is None or ticket.sla_started_at is None:
        return SlaState(None, None, False, False, ticket.responded_at)
    cal = clock_calendar(contract, ticket.sla_clock or ClockKind.WORKING)
    end = ticket.responded_at or now
    if pauses is None:
        pauses = status_pauses(session, ticket, ticket.sla_started_at)
    used = working_time_between(ticket.sla_started_at, end, cal, pauses)
    remaining = timedelta(minutes=ticket.sla_response_minutes) - used
    breached = ticket.response_breached or remaining < timedelta(0)
    return SlaState(ticket.response_due_at, remaining, breached, ticket.sla_paused, ticket.responded_at)


def working_minutes_to_respond(ticket: Ticket, session: Session) -> float | None:
    """Response time in the contract's working minutes (for reports); None if not responded."""
    if ticket.responded_at is None or ticket.contract is None or ticket.sla_started_at is None:
        return None
    cal = clock_calendar(ticket.contract, ticket.sla_clock or ClockKind.WORKING)
    pauses = status_pauses(session, ticket, ticket.sla_started_at)
    return working_time_between(ticket.sla_started_at, ticket.responded_at, cal, pauses).total_seconds() / 60


def mark_breaches(session: Session, now: datetime) -> list[int]:
    """Flag tickets whose deadline passed without a response; returns their ids (idempotent)."""
    ids = list(
        session.scalars(
            select(Ticket.id).where(
                Ticket.responded_at.is_(None),
                Ticket.response_breached.is_(False),
                Ticket.response_due_at.is_not(None),
                Ticket.response_due_at <= now,
            )
        )
    )
    if ids:
        session.execute(
            update(Ticket).where(Ticket.id.in_(ids), Ticket.response_breached.is_(False))
            .values(response_breached=True)
        )
    return ids


def tickets_due_between(session: Session, start: datetime, end: datetime) -> list[Ticket]:
    return list(
        session.scalars(
            select(Ticket)
            .where(Ticket.responded_at.is_(None), Ticket.response_due_at >= start, Ticket.response_due_at < end)
            .order_by(Ticket.response_due_at)
        )
    )


def all_targets(session: Session, contract_id: int) -> list[SlaTarget]:
    return list(session.scalars(select(SlaTarget).where(SlaTarget.contract_id == contract_id)))


# --- response times kept for reports -----------------------------------------------------------


def calendar_digest(contract: Contract, clock: str) -> str:
    """What a response time in this contract's clock depends on, besides the ticket itself: the zone,
    the weekly hours, holidays (and the holidays package's version), extra working days and days off."""
    if clock == ClockKind.CALENDAR:
        spec: tuple = (contract.timezone, "always")
    else:
        weekly = sorted((day, list(spans)) for day, spans in (contract.working_hours or {}).items())
        extra = sorted(str(d) for d in contract.extra_working_days or [])
        off = sorted(str(d) for d in contract.days_off or [])
        spec = (contract.timezone, weekly, contract.holiday_country, holidays.__version__, extra, off)
    return hashlib.sha256(repr(spec).encode()).hexdigest()[:20]


def response_basis(contract: Contract, clock: str | None) -> int:
    """`Ticket.response_minutes_basis` for a response counted in this contract's clock today: a 63-bit digest
    of the contract, the clock and its calendar (an integer keeps the reports' index narrow)."""
    clock = clock or ClockKind.WORKING
    text = f"{contract.id}:{clock}:{calendar_digest(contract, clock)}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


def keep_response_minutes(session: Session, ticket: Ticket) -> None:
    """Store a responded ticket's response time in working minutes (what reports aggregate), unless
    the stored one was counted against today's calendar already."""
    if ticket.responded_at is None or ticket.contract is None or ticket.sla_started_at is None:
        ticket.response_minutes = ticket.response_minutes_basis = None
        return
    basis = response_basis(ticket.contract, ticket.sla_clock)
    if ticket.response_minutes is not None and ticket.response_minutes_basis == basis:
        return
    session.flush()  # the status change that ended a pause is part of the history counted
    ticket.response_minutes = working_minutes_to_respond(ticket, session)
    ticket.response_minutes_basis = basis


def _forget_response_minutes(target: Ticket, value: object, oldvalue: object, _initiator: object) -> None:
    # A new start, response, contract or clock makes the kept figure wrong; refresh_ticket_sla counts it again.
    if value != oldvalue and target.response_minutes is not None:
        target.response_minutes = target.response_minutes_basis = None


for _attribute in (Ticket.responded_at, Ticket.sla_started_at, Ticket.contract_id, Ticket.sla_clock):
    event.listen(_attribute, "set", _forget_response_minutes)
