"""Alerts by SMS from the wrong phone (issue 15 item 8), as an outsider would try it: signed Twilio
webhooks from staff phones that may not act on the alert. Each is refused and the database is
unchanged. Before: any staff phone could ACK/RES any alert (an agent never paged acknowledged an
alert paged to eng2; QA resolved one)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from callcenter.models import Alert, AlertEvent, AlertStatus, OutboxMessage, Page, Timer

ENG2, ENG3, MANAGER = "+3615550182", "+302105550183", "+3615550184"
AGENT1, QA, ADMIN = "+3615550181", "+3615550185", "+3615550180"


def snapshot(pager) -> dict:  # noqa: ANN001
    """Everything an action on an alert could change."""
    with pager.factory() as s:
        return {
            "alerts": sorted((a.id, a.status, a.loop, a.step, a.acknowledged_by_id, a.resolved_at)
                             for a in s.scalars(select(Alert))),
            "events": s.scalar(select(func.count()).select_from(AlertEvent)),
            "timers": sorted((t.key, t.fired_at, t.cancelled_at) for t in s.scalars(select(Timer))),
            "outbox": sorted((m.idempotency_key, m.state) for m in s.scalars(select(OutboxMessage))),
            "pages": s.scalar(select(func.count()).select_from(Page)),
        }


@pytest.fixture
def paged(pager, fake):  # noqa: ANN001, ANN201
    """An alert on a ticket, paged to eng2 (the on-call engineer) by SMS."""
    alert_id, number = pager.raise_alert()
    pager.tick()
    fake.wait_for_message(to=ENG2)
    return alert_id, number


@pytest.mark.parametrize(("phone", "body"), [
    (AGENT1, "ACK {n}"),        # an agent never paged for it
    (AGENT1, "RES {n}"),
    (AGENT1, "ESC {n}"),
    (AGENT1, "4 {n}"),           # the short codes are the same command
    (QA, "RES {n}"),             # quality reviewers only read
    (QA, "ack {n}"),
    (QA, "ESCALATE #{n}"),
])
def test_sms_from_a_phone_that_may_not_act_is_refused_and_changes_nothing(pager, fake, paged, phone, body):
    alert_id, number = paged
    before = snapshot(pager)
    reply = pager.sms_reply(phone, body.format(n=number))
    assert reply.status_code == 200
    assert "You may not" in reply.text and str(number) in reply.text
    assert snapshot(pager) == before
    pager.settle(minutes=4)  # escalation goes on as if nothing was sent: eng2's call at +2 min
    fake.wait_for_call(to=ENG2)
    fake.assert_nothing_unexpected()


def test_bare_ack_from_someone_never_paged_names_no_alert(pager, fake, paged):
    before = snapshot(pager)
    reply = pager.sms_reply(AGENT1, "ACK")
    assert "0 open alerts for you" in reply.text
    assert snapshot(pager) == before


def test_sms_from_an_unknown_or_deactivated_phone_gets_no_answer_and_changes_nothing(pager, fake, paged):
    alert_id, number = paged
    with pager.factory() as s:
        pager.staff(s, "manager").active = False
        s.commit()
    before = snapshot(pager)
    for phone in ("+3615559999", MANAGER):
        reply = pager.sms_reply(phone, f"RES {number}")
        assert reply.status_code == 200 and "<Message>" not in reply.text
    assert snapshot(pager) == before


def test_forged_signature_from_the_paged_phone_is_refused(pager, fake, paged):
    alert_id, number = paged
    before = snapshot(pager)
    fake.tamper_signatures = True
    reply = pager.sms_reply(ENG2, f"ACK {number}")
    fake.tamper_signatures = False
    assert reply.status_code == 403
    assert snapshot(pager) == before


@pytest.mark.parametrize(("phone", "command", "status"), [
    (ENG2, "ACK", AlertStatus.ACKNOWLEDGED),      # paged for it
    (ENG3, "ACK", AlertStatus.ACKNOWLEDGED),      # an engineer (and on the policy's next step)
    (MANAGER, "RES", AlertStatus.RESOLVED),       # a manager
    (ADMIN, "RES", AlertStatus.RESOLVED),
])
def test_the_people_who_may_act_still_can(pager, fake, paged, phone, command, status):
    alert_id, number = paged
    reply = pager.sms_reply(phone, f"{command} {number}")
    assert "by " in reply.text, reply.text
    with pager.factory() as s:
        assert s.get(Alert, alert_id).status == status
