"""Acknowledgement timeout (reference: paging-engine, "Ack timeout"): an alert acknowledged but left
without progress on its ticket for the contract's ack timeout pages the acknowledger again, then
escalates as before; progress on the ticket restarts the clock; resolving ends it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from callcenter import events, timers
from callcenter.db import session_scope
from callcenter.models import Alert, AlertEvent, AlertStatus, Page
from callcenter.paging import alerts
from callcenter.paging.sources import default_policy
from callcenter.tickets import SYSTEM, NewTicket, add_note, create_ticket
from callcenter.wiring import load_services

load_services()


@pytest.fixture
def acked(session_factory, demo, now):  # noqa: ANN001, ANN201
    """A standby critical fault paged out of hours and acknowledged by the first person paged."""
    with session_scope(session_factory) as session:
        contract = demo.athens.contracts[0]
        session.get(type(contract), contract.id).ack_timeout_minutes = 30
        ticket = create_ticket(session, NewTicket(subject="PBX trunk down", channel="phone", category="system",
                                                  company_id=demo.athens.id, priority="critical"), now=now)
        events.publish(session, events.CriticalFaultReported(ticket.id, demo.athens.id, None, True, now))
        alert = session.scalar(select(Alert))
        first = session.scalar(select(Page).where(Page.alert_id == alert.id).order_by(Page.id)).staff
        assert alerts.acknowledge(session, alert, staff=first, channel="sms", now=now + timedelta(minutes=2))
        return alert.id, ticket.id, first.id


def _alert(session_factory, alert_id):  # noqa: ANN001, ANN202
    with session_scope(session_factory) as session:
        alert = session.get(Alert, alert_id)
        pages = [(p.staff_id, p.loop, p.step) for p in session.scalars(
            select(Page).where(Page.alert_id == alert_id).order_by(Page.id))]
        kinds = [e.kind for e in session.scalars(select(AlertEvent).where(AlertEvent.alert_id == alert_id)
                                                 .order_by(AlertEvent.id))]
        return alert.status, pages, kinds


def test_no_progress_pages_the_acknowledger_again_then_escalates(session_factory, acked, now) -> None:
    alert_id, _, acker = acked
    timers.fire_due(session_factory, now + timedelta(minutes=31))  # not yet: acked at +2
    assert _alert(session_factory, alert_id)[0] == AlertStatus.ACKNOWLEDGED
    timers.fire_due(session_factory, now + timedelta(minutes=33))
    status, pages, kinds = _alert(session_factory, alert_id)
    assert status == AlertStatus.TRIGGERED and kinds[-3:-1] == ["acknowledged", "ack_timeout"]
    assert pages[-1][0] == acker and len(pages) == 2  # the acknowledger alone, at the same step
    # Nobody answers again: the escalation moves on to the next step after the step's delay.
    timers.fire_due(session_factory, now + timedelta(hours=2))
    status, pages, kinds = _alert(session_factory, alert_id)
    assert status == AlertStatus.TRIGGERED and "escalate" in kinds[kinds.index("ack_timeout"):]
    assert len(pages) > 2


def test_progress_on_the_ticket_restarts_the_clock(session_factory, acked, now) -> None:
    alert_id, ticket_id, _ = acked
    with session_scope(session_factory) as session:
        from callcenter.models import Ticket

        add_note(session, session.get(Ticket, ticket_id), "On site, replacing the trunk card.", actor=SYSTEM,
                 now=now + timedelta(minutes=20))
    timers.fire_due(session_factory, now + timedelta(minutes=33))
    assert _alert(session_factory, alert_id)[0] == AlertStatus.ACKNOWLEDGED  # worked on at +20
    timers.fire_due(session_factory, now + timedelta(minutes=51))
    status, pages, kinds = _alert(session_factory, alert_id)
    assert status == AlertStatus.TRIGGERED and kinds.count("ack_timeout") == 1 and len(pages) == 2


def test_resolving_ends_the_watch_and_contracts_without_a_timeout_never_repage(session_factory, demo, acked,
                                                                               now) -> None:
    alert_id, _, _ = acked
    with session_scope(session_factory) as session:
        alerts.resolve(session, session.get(Alert, alert_id), staff=None, channel="web", now=now + timedelta(minutes=5))
    timers.fire_due(session_factory, now + timedelta(hours=3))
    status, pages, kinds = _alert(session_factory, alert_id)
    assert status == AlertStatus.RESOLVED and "ack_timeout" not in kinds and len(pages) == 1
    # The Budapest contract sets no ack timeout: an acknowledged alert stays acknowledged.
    with session_scope(session_factory) as session:
        ticket = create_ticket(session, NewTicket(subject="Switch down", channel="phone", category="system",
                                                  company_id=demo.budapest.id, priority="critical"), now=now)
        alert, _ = alerts.raise_alert(session, source="api", dedup_key="switch", summary="Switch down", now=now,
                                      ticket=ticket, policy=default_policy(session))
        alerts.acknowledge(session, alert, staff=None, channel="web", now=now)
        other = alert.id
    timers.fire_due(session_factory, now + timedelta(hours=3))
    with session_scope(session_factory) as session:
        assert session.get(Alert, other).status == AlertStatus.ACKNOWLEDGED
        assert session.scalar(select(func.count()).select_from(AlertEvent)
                              .where(AlertEvent.alert_id == other, AlertEvent.kind == "ack_timeout")) == 0
