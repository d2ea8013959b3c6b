"""End to end through the real protocol: FakeTwilio REST + signed callbacks, the app's webhooks, the
worker's tick at a controlled clock. Every test ends with no stray SMS or call (a no-duplicate test)."""

from __future__ import annotations

from datetime import timedelta

from paging_harness import FROM_NUMBER
from sqlalchemy import select

from callcenter.models import Alert, AlertEvent, AlertStatus, NotificationRule

ENG2, ENG3, MANAGER = "+3615550182", "+302105550183", "+3615550184"


def alert_row(pager, alert_id):
    with pager.factory() as s:
        alert = s.get(Alert, alert_id)
        s.expunge(alert)
        return alert


def event_kinds(pager, alert_id):
    with pager.factory() as s:
        return [e.kind for e in s.scalars(select(AlertEvent).where(AlertEvent.alert_id == alert_id)
                                          .order_by(AlertEvent.id))]


def test_page_then_ack_by_sms(pager, fake):
    alert_id, number = pager.raise_alert()
    pager.tick()
    sms = fake.wait_for_message(to=ENG2)
    assert f"#{number}" in sms.body and "Athens Demo A.E." in sms.body and f"ACK {number}" in sms.body
    assert sms.from_ == FROM_NUMBER
    assert sms.status_callback.startswith("http://hotline.test/twilio/page/sms-status?o=")
    reply = pager.sms_reply(ENG2, f"ack  {number}")
    assert reply.status_code == 200 and "acknowledged by Tóth Gábor" in reply.text
    alert = alert_row(pager, alert_id)
    assert alert.status == AlertStatus.ACKNOWLEDGED and alert.ack_channel == "sms"
    pager.settle()  # no voice call at +2 min, no step 2 at +5 min
    fake.assert_nothing_unexpected()


def test_bare_short_code_acks_the_only_open_page(pager, fake):
    alert_id, _ = pager.raise_alert()
    pager.tick()
    fake.wait_for_message(to=ENG2)
    assert "acknowledged" in pager.sms_reply(ENG2, "1").text
    assert alert_row(pager, alert_id).status == AlertStatus.ACKNOWLEDGED
    pager.settle()
    fake.assert_nothing_unexpected()


def test_unknown_sender_and_bad_signature_are_ignored(pager, fake):
    alert_id, number = pager.raise_alert()
    pager.tick()
    fake.wait_for_message(to=ENG2)
    assert "<Message>" not in pager.sms_reply("+3619999999", f"ACK {number}").text
    fake.tamper_signatures = True
    assert pager.sms_reply(ENG2, f"ACK {number}").status_code == 403
    fake.tamper_signatures = False
    assert alert_row(pager, alert_id).status == AlertStatus.TRIGGERED
    assert "acknowledged" in pager.sms_reply(ENG2, f"ACK {number}").text
    pager.settle()
    fake.assert_nothing_unexpected()


def test_no_ack_escalates_through_the_steps(pager, fake):
    alert_id, number = pager.raise_alert()
    pager.tick()
    fake.wait_for_message(to=ENG2)
    pager.advance(minutes=2)
    call = fake.wait_for_call(to=ENG2)  # voice rule after 2 minutes; nobody answers, no callbacks
    assert call.machine_detection == "Enable"
    pager.advance(minutes=3)  # step 1's 5 minutes are over: the L3 team
    sms = fake.wait_for_message(to=ENG3)
    assert "Apantiste ACK" in sms.body  # Greek engineer, Greek (latin-script) SMS
    pager.advance(minutes=2)
    fake.wait_for_call(to=ENG3)
    pager.advance(minutes=3)  # step 3: managers
    fake.wait_for_message(to=MANAGER)
    assert alert_row(pager, alert_id).step == 2
    assert "acknowledged" in pager.sms_reply(MANAGER, f"ACK {number}").text
    pager.settle()
    fake.assert_nothing_unexpected()
    assert event_kinds(pager, alert_id).count("escalate") == 2


def test_repeat_once_then_unreached(pager, fake):
    with pager.factory() as s:  # SMS only, so the test follows the steps alone
        s.execute(NotificationRule.__table__.delete().where(NotificationRule.channel == "voice"))
        s.commit()
    alert_id, _ = pager.raise_alert()
    pager.tick()
    for to in (ENG2, ENG3, MANAGER, ENG2, ENG3, MANAGER):
        fake.wait_for_message(to=to)
        pager.advance(minutes=5)
    pager.settle()
    fake.assert_nothing_unexpected()
    alert = alert_row(pager, alert_id)
    assert alert.unreached and alert.status == AlertStatus.TRIGGERED and alert.loop == 1


def test_voicemail_is_not_reached_and_moves_on_at_once(pager, fake):
    with pager.factory() as s:  # eng2: call first, SMS only after 3 minutes
        eng2 = pager.staff(s, "eng2")
        s.execute(NotificationRule.__table__.delete().where(NotificationRule.staff_id == eng2.id))
        s.add_all([NotificationRule(staff_id=eng2.id, channel="voice", delay_minutes=0),
                   NotificationRule(staff_id=eng2.id, channel="sms", delay_minutes=3)])
        s.commit()
    alert_id, _ = pager.raise_alert()
    pager.tick()
    call = fake.wait_for_call(to=ENG2)
    fake.ring(call.sid)
    session = fake.answer_call(call.sid, answered_by="machine_end_beep")
    assert session.ended  # the machine hears a short message and the call hangs up
    session.hangup()
    pager.tick()  # same minute: the SMS goes now, not at +3 min
    fake.wait_for_message(to=ENG2)
    assert alert_row(pager, alert_id).status == AlertStatus.TRIGGERED
    kinds = event_kinds(pager, alert_id)
    assert "machine" in kinds and "failover" in kinds
    pager.advance(minutes=5)
    fake.wait_for_message(to=ENG3)
    pager.advance(minutes=2)
    fake.wait_for_call(to=ENG3)
    assert "acknowledged" in pager.sms_reply(ENG3, "ACK").text
    pager.settle()
    fake.assert_nothing_unexpected()


def test_human_presses_the_key_and_acknowledges(pager, fake):
    alert_id, number = pager.raise_alert()
    pager.tick()
    fake.wait_for_message(to=ENG2)
    pager.advance(minutes=2)
    call = fake.wait_for_call(to=ENG2)
    session = fake.answer_call(call.sid, answered_by="human")
    assert session.state == "gather"
    said = session.heard[0]
    assert said.language == "hu-HU" and said.voice == "Google.hu-HU-Standard-A"
    assert f"#{number}" in said.text and "Athens Demo A.E." in said.text
    session.press("4")
    assert session.ended and "Nyugtázva" in session.transcript
    session.hangup()
    alert = alert_row(pager, alert_id)
    assert alert.status == AlertStatus.ACKNOWLEDGED and alert.ack_channel == "voice"
    pager.settle()
    fake.assert_nothing_unexpected()


def test_answered_without_a_key_is_not_acknowledged(pager, fake):
    alert_id, _ = pager.raise_alert()
    pager.tick()
    fake.wait_for_message(to=ENG2)
    pager.advance(minutes=2)
    call = fake.wait_for_call(to=ENG2)
    session = fake.answer_call(call.sid, answered_by="human")
    session.gather_timeout()  # the prompt repeats once
    session.gather_timeout()
    assert session.ended
    session.hangup()
    pager.tick()
    assert alert_row(pager, alert_id).status == AlertStatus.TRIGGERED
    pager.advance(minutes=3)
    fake.wait_for_message(to=ENG3)
    assert "acknowledged" in pager.sms_reply(ENG3, "4").text
    pager.settle()
    fake.assert_nothing_unexpected()


def test_failed_sms_calls_at_once_and_duplicate_callbacks_change_nothing(pager, fake):
    alert_id, _ = pager.raise_alert()
    pager.tick()
    sms = fake.wait_for_message(to=ENG2)
    failed = fake.prepare_message_status(sms.sid, "undelivered", error_code=30003)
    fake.deliver(failed)
    fake.deliver(failed)  # Twilio may repeat a callback
    fake.message_status(sms.sid, "sent")  # ... or deliver an older one late
    pager.tick()  # same instant: no waiting for the 2-minute voice rule
    call = fake.wait_for_call(to=ENG2)
    ringing = fake.prepare_call_status(call.sid, "ringing", sequence_number=1)
    no_answer = fake.prepare_call_status(call.sid, "no-answer", sequence_number=2)
    fake.deliver(no_answer)
    fake.deliver(ringing)  # out of order: ignored
    fake.deliver(no_answer)
    pager.tick()
    # eng2 has no contact method left and no notification may still reach them: step 2 now.
    fake.wait_for_message(to=ENG3)
    assert alert_row(pager, alert_id).step == 1
    assert "acknowledged" in pager.sms_reply(ENG3, "ACK").text
    pager.settle()
    fake.assert_nothing_unexpected()


def test_escalate_now_by_sms(pager, fake):
    alert_id, number = pager.raise_alert()
    pager.tick()
    fake.wait_for_message(to=ENG2)
    assert "escalated" in pager.sms_reply(ENG2, f"ESC {number}").text
    pager.tick()
    fake.wait_for_message(to=ENG3)
    # eng2 answers again from the old message: the alert moved on, so it is refused.
    assert "moved on" in pager.sms_reply(ENG2, f"esc {number}").text
    assert "resolved" in pager.sms_reply(ENG3, f"RES {number}").text
    assert alert_row(pager, alert_id).status == AlertStatus.RESOLVED
    pager.settle()
    fake.assert_nothing_unexpected()


def test_provider_500_is_retried_and_sent_once(pager, fake):
    fake.fail_next(1, status=500, path_contains="Messages")
    alert_id, number = pager.raise_alert()
    pager.tick()
    pager.advance(seconds=16)  # the outbox's first backoff is 15 s
    fake.wait_for_message(to=ENG2)
    assert "acknowledged" in pager.sms_reply(ENG2, f"ACK {number}").text
    pager.settle()
    fake.assert_nothing_unexpected()
    assert [r.status for r in fake.requests if r.path.endswith("Messages.json")] == [500, 201]


def test_restart_timer_due_while_no_worker_ran_fires_on_first_tick(pager, fake):
    alert_id, number = pager.raise_alert()
    pager.t += timedelta(minutes=6)  # every worker was down
    pager.tick()
    fake.wait_for_message(to=ENG2)
    fake.wait_for_call(to=ENG2)
    fake.wait_for_message(to=ENG3)
    assert "acknowledged" in pager.sms_reply(ENG3, f"ACK {number}").text
    pager.settle()
    fake.assert_nothing_unexpected()


def test_ack_by_ticket_number_stops_every_page_about_that_ticket(pager, fake):
    from callcenter.models import EscalationPolicy, Ticket

    first, number = pager.raise_alert(key="standby")
    with pager.factory() as s:
        ticket = s.scalar(select(Ticket).where(Ticket.number == number))
        policy = s.scalar(select(EscalationPolicy))
        from callcenter.paging import alerts

        second, _ = alerts.raise_alert(s, source="sla", dedup_key=f"{number}:response:warn75", summary="SLA soon",
                                       policy=policy, ticket=ticket, now=pager.t)
        s.commit()
        second = second.id
    pager.tick()
    fake.wait_for_message(to=ENG2, body_contains="PBX down")
    fake.wait_for_message(to=ENG2, body_contains="SLA soon")
    assert "2 open alerts" in pager.sms_reply(ENG2, "ACK").text  # bare ACK is ambiguous here
    assert "acknowledged" in pager.sms_reply(ENG2, f"ACK {number}").text
    assert {alert_row(pager, i).status for i in (first, second)} == {AlertStatus.ACKNOWLEDGED}
    pager.settle()
    fake.assert_nothing_unexpected()
