"""Where alerts come from: hotline no-answer, critical faults of 24/7 standby customers, SLA thresholds.

The API (`POST /api/v1/alerts`) is the fourth source; it calls alerts.raise_alert directly.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from .. import events
from ..config import Settings
from ..db import session_scope
from ..models import OPEN_STATUSES, Alert, EscalationPolicy, Ticket
from ..scheduler import periodic
from ..sla import response_target, sla_state
from . import engine
from .alerts import raise_alert, resolve

log = logging.getLogger(__name__)

# Automatic alerts (hotline, standby, SLA) follow the policy of this name, else the oldest policy.
DEFAULT_POLICY = "Default"


def default_policy(session: Session) -> EscalationPolicy | None:
    policy = session.scalar(select(EscalationPolicy).where(EscalationPolicy.name == DEFAULT_POLICY))
    return policy or session.scalar(select(EscalationPolicy).order_by(EscalationPolicy.id).limit(1))


def on_hotline_unanswered(session: Session, event: events.HotlineUnanswered) -> None:
    ticket = session.get(Ticket, event.ticket_id) if event.ticket_id else None
    minutes = max(1, round(event.waited_seconds / 60))
    customer = None
    if ticket is None and event.company_id:
        from ..models import Company

        company = session.get(Company, event.company_id)
        customer = company.name if company else None
    summary = f"Hotline call not answered for {minutes} min"
    if ticket is not None:
        summary += f": {ticket.subject}"
    raise_alert(session, source="hotline", dedup_key=f"call:{event.call_id}",
                trigger_key=f"hotline-wait:{event.call_id}", summary=summary,
                details=f"call {event.call_id} waited {event.waited_seconds} s in the queue",
                policy=default_policy(session), ticket=ticket, customer=customer, now=event.now)


def on_call_lost(session: Session, event: events.CallLost) -> None:
    """The caller an unanswered-hotline alert is about is gone: nobody is waiting any more."""
    alert = session.scalar(select(Alert).where(Alert.open_key == f"hotline:call:{event.call_id}"))
    if alert is not None:
        resolve(session, alert, staff=None, channel="system", now=event.now, note=f"caller gone ({event.reason})")


def on_critical_fault(session: Session, event: events.CriticalFaultReported) -> None:
    ticket = session.get(Ticket, event.ticket_id)
    if ticket is None:
        return
    contract = ticket.contract
    if contract is None or not contract.is_standby:
        return
    if not (event.out_of_hours or contract.page_critical_always):
        return
    raise_alert(session, source="standby", dedup_key=f"ticket:{ticket.number}", trigger_key=f"standby:{ticket.number}",
                summary=ticket.subject, details=(ticket.description or "")[:4000],
                policy=default_policy(session), ticket=ticket, now=event.now)


def check_sla_thresholds(session: Session, now: datetime) -> list[Alert]:
    """Raise the warning (at the target's warn_percent of working time used) and breach alerts, once each."""
    raised: list[Alert] = []
    tickets = session.scalars(select(Ticket).where(
        Ticket.responded_at.is_(None), Ticket.response_due_at.is_not(None), Ticket.sla_started_at.is_not(None),
        Ticket.contract_id.is_not(None), Ticket.status.in_(list(OPEN_STATUSES))).order_by(Ticket.id))
    policy = None
    for ticket in tickets:
        target = response_target(ticket.contract, ticket.category)
        if target is None or not ticket.sla_response_minutes:
            continue
        state = sla_state(session, ticket, now)
        if state.remaining is None:
            continue
        total = timedelta(minutes=ticket.sla_response_minutes)
        used_share = (total - state.remaining) / total
        started = int(ticket.sla_started_at.timestamp())
        if state.breached or (ticket.response_due_at and ticket.response_due_at <= now):
            kind, summary = "breach", f"SLA response deadline breached: {ticket.subject}"
        elif used_share * 100 >= target.warn_percent:
            kind, summary = f"warn{target.warn_percent}", (
                f"SLA response deadline at {ticket.response_due_at.isoformat()}: {ticket.subject}")
        else:
            continue
        trigger = f"sla:{ticket.number}:{started}:{kind}"
        if session.scalar(select(Alert.id).where(Alert.trigger_key == trigger)) is not None:
            continue
        policy = policy or default_policy(session)
        alert, created = raise_alert(session, source="sla", dedup_key=f"{ticket.number}:response:{kind}",
                                     trigger_key=trigger, summary=summary, severity="high", policy=policy,
                                     ticket=ticket, now=now,
                                     details=f"{ticket.sla_response_minutes} min {ticket.sla_clock} target, "
                                             f"{used_share:.0%} used")
        if created:
            raised.append(alert)
    return raised


@periodic("paging-sla", seconds=60)
def sla_job(factory: sessionmaker[Session], settings: Settings, now: datetime) -> None:
    with session_scope(factory) as session:
        check_sla_thresholds(session, now)


engine.register()
