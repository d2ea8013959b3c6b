"""Across the subsystems, through the real protocols: a call to the hotline ends with the on-call
engineer's phone buzzing (and the customer's mailbox getting the ticket), exactly once."""

from __future__ import annotations

import pytest
from fake_twilio import FakeTwilio
from hotline_helpers import ANNA, HOTLINE_NUMBER, IN_HOURS, NIKOS, OUT_OF_HOURS, tickets
from paging_harness import Pager
from sqlalchemy import select

from callcenter.models import Alert, AlertStatus, OutboxMessage

ENG2 = "+3615550182"


@pytest.fixture
def world(app, settings, engine, session_factory, demo, fake):  # noqa: ANN001, ANN201
    fake.attach_app(app, settings.public_url)

    def at(now):  # noqa: ANN001, ANN202
        pager = Pager(settings, engine, session_factory, fake, now)
        app.config["HOTLINE_CLOCK"] = lambda: pager.t
        app.config["PAGING_CLOCK"] = lambda: pager.t
        pager.put_on_call("eng2")
        return pager

    return at


def dial_in(fake: FakeTwilio, settings, caller: str):  # noqa: ANN001, ANN201
    return fake.start_inbound_call(settings.public_url, caller, HOTLINE_NUMBER,
                                   status_callback=settings.public_url + "/twilio/voice/status")


def test_standby_customer_critical_fault_out_of_hours_pages_at_once(world, fake, settings, session):  # noqa: ANN001
    pager = world(OUT_OF_HOURS)
    call = dial_in(fake, settings, NIKOS)
    call.press("1")
    [ticket] = tickets(session)
    assert ticket.priority == "critical" and ticket.company.name == "Athens Demo A.E."
    pager.tick()
    sms = fake.wait_for_message(to=ENG2)
    assert f"#{ticket.number}" in sms.body and "Athens Demo A.E." in sms.body
    # The customer's confirmation mail, in the outbox with the number in the subject.
    mails = session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "email",
                                                        OutboxMessage.destination == "pbx@athens-demo.example"))
    assert any(f"#{ticket.number}" in m.payload["subject"] for m in mails)
    reply = pager.sms_reply(ENG2, f"ACK {ticket.number}")
    assert reply.status_code == 200
    session.expire_all()
    alert = session.scalar(select(Alert))
    assert alert.status == AlertStatus.ACKNOWLEDGED and alert.ticket_id == ticket.id
    call.hangup()
    pager.settle()
    fake.assert_nothing_unexpected()


def test_business_hours_customer_unanswered_queue_pages_after_threshold(world, fake, settings, session):  # noqa: ANN001
    pager = world(IN_HOURS)
    call = dial_in(fake, settings, ANNA)
    call.press("1")
    assert call.state == "enqueue"
    pager.tick()
    assert session.scalar(select(Alert)) is None  # a critical fault in office hours waits for the agents
    pager.advance(seconds=300)
    call.queue_wait(queue_time=300)
    assert session.scalar(select(Alert)) is None
    pager.advance(seconds=290)
    call.queue_wait(queue_time=590)  # Twilio asks the wait URL every 20 s: the caller is still there
    pager.advance(seconds=11)  # past Budapest's 10-minute threshold
    sms = fake.wait_for_message(to=ENG2)
    [ticket] = tickets(session)
    assert f"#{ticket.number}" in sms.body
    call.queue_wait(queue_time=601)
    assert any("alert" in h.text.lower() or "riaszt" in h.text.lower() for h in call.heard[-3:]), call.transcript
    pager.sms_reply(ENG2, "1")
    session.expire_all()
    assert session.scalar(select(Alert.status)) == AlertStatus.ACKNOWLEDGED
    call.hangup()
    pager.settle()
    fake.assert_nothing_unexpected()


def test_business_hours_customer_out_of_hours_is_not_paged(world, fake, settings, session):  # noqa: ANN001
    pager = world(OUT_OF_HOURS)
    call = dial_in(fake, settings, ANNA)
    assert "8 és 17 óra között" in call.transcript  # the hours, then a message
    call.record(duration=12)
    [ticket] = tickets(session)
    assert ticket.channel == "phone"
    pager.tick()
    pager.advance(minutes=30)
    assert session.scalar(select(Alert)) is None
    fake.assert_nothing_unexpected()
