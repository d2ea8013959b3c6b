"""Periodic SLA bookkeeping: flag breached response deadlines; count the response times reports read."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from .config import Settings
from .db import session_scope
from .models import PAUSED_STATUSES, ClockKind, Contract, Ticket, TicketEvent
from .scheduler import periodic
from .sla import clock_calendar, mark_breaches, response_basis
from .sla_clock import pauses_from_history, working_time_between

log = logging.getLogger(__name__)

FILL_BATCH = 2000
FILL_SECONDS = 20.0  # one run's budget; the next run goes on where this one stopped


@periodic("sla-breaches", seconds=60)
def flag_breaches(factory: sessionmaker[Session], settings: Settings, now: datetime) -> None:
    with session_scope(factory) as session:
        mark_breaches(session, now)


def fill_response_minutes(session: Session, limit: int = FILL_BATCH) -> int:
    """Count and keep the response time of up to `limit` responded tickets that have none (tickets from
    before the column existed, or whose figure was forgotten); as `sla.keep_response_minutes` does one
    by one, with the status histories of the batch read in one query."""
    rows = session.execute(
        select(Ticket.id, Ticket.contract_id, Ticket.sla_clock, Ticket.sla_started_at, Ticket.responded_at)
        .where(Ticket.responded_at.is_not(None), Ticket.response_minutes.is_(None),
               Ticket.contract_id.is_not(None), Ticket.sla_started_at.is_not(None))
        .order_by(Ticket.id).limit(limit)
    ).all()
    if not rows:
        return 0
    ids = [r.id for r in rows]
    history: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    for ticket_id, at, changes in session.execute(
        select(TicketEvent.ticket_id, TicketEvent.at, TicketEvent.changes)
        .where(TicketEvent.ticket_id.in_(ids), TicketEvent.kind == "status")
        .order_by(TicketEvent.ticket_id, TicketEvent.at, TicketEvent.id)
    ):
        if "status" in (changes or {}):
            history[ticket_id].append((at, changes["status"][1]))
    contracts = {c.id: c for c in session.scalars(select(Contract).where(Contract.id.in_({r.contract_id
                                                                                         for r in rows})))}
    values = []
    for tid, contract_id, clock, started, responded in rows:
        contract = contracts[contract_id]
        clock = clock or ClockKind.WORKING
        transitions = history.get(tid, [])
        pauses = []
        if any(status in PAUSED_STATUSES for _at, status in transitions):
            pauses = [p for p in pauses_from_history(transitions, PAUSED_STATUSES) if p[1] is None or p[1] > started]
        elapsed = working_time_between(started, responded, clock_calendar(contract, clock), pauses)
        values.append({"id": tid, "response_minutes": elapsed.total_seconds() / 60,
                       "response_minutes_basis": response_basis(contract, clock)})
    session.execute(update(Ticket), values)
    return len(values)


def forget_stale_response_minutes(session: Session) -> int:
    """Response times counted against a calendar that has changed since (hours, holidays ...) are
    forgotten, so that `fill_response_minutes` counts them again; reports never use them meanwhile."""
    current = {response_basis(contract, clock) for contract in session.scalars(select(Contract))
               for clock in (ClockKind.WORKING, ClockKind.CALENDAR)}
    kept = session.scalars(select(Ticket.response_minutes_basis).where(Ticket.response_minutes_basis.is_not(None))
                           .distinct()).all()
    stale = [basis for basis in kept if basis not in current]
    if not stale:
        return 0
    return session.execute(
        update(Ticket).where(Ticket.response_minutes_basis.in_(stale))
        .values(response_minutes=None, response_minutes_basis=None).execution_options(synchronize_session=False)
    ).rowcount or 0


@periodic("response-minutes", seconds=300)
def keep_response_minutes_job(factory: sessionmaker[Session], settings: Settings, now: datetime) -> None:
    with session_scope(factory) as session:
        forgotten = forget_stale_response_minutes(session)
    if forgotten:
        log.info("%s response times were counted against a calendar that changed; counting them again", forgotten)
    deadline = time.monotonic() + FILL_SECONDS
    while time.monotonic() < deadline:
        with session_scope(factory) as session:
            if fill_response_minutes(session) < FILL_BATCH:
                return
