"""Twilio webhooks delivered twice: Twilio retries a webhook it did not hear answered (a timeout, a
restart of our web process), and a signed request captured on the way can be sent again. One SMS
(one MessageSid) is one action, answered alike however often it arrives."""

from __future__ import annotations

from sqlalchemy import func, select

from callcenter.models import Alert, AlertEvent

MANAGER, ENG2 = "+3615550184", "+3615550182"


def _events(pager, alert_id: int, kind: str) -> int:  # noqa: ANN001
    with pager.factory() as s:
        return s.scalar(select(func.count()).select_from(AlertEvent).where(AlertEvent.alert_id == alert_id,
                                                                          AlertEvent.kind == kind))


def test_the_same_sms_escalates_once(pager, fake) -> None:  # noqa: ANN001
    alert_id, number = pager.raise_alert()
    pager.tick()
    fake.wait_for_message(to=ENG2)
    sid = "SM" + "e" * 32
    # A manager may escalate at any step: only the MessageSid tells the second delivery from a new order.
    first = fake.inbound_sms(pager.settings.public_url, MANAGER, "+3615550100", f"ESC {number}", message_sid=sid)
    pager.tick()  # the escalation happened (step 2 paged) before the same SMS arrives again
    again = fake.inbound_sms(pager.settings.public_url, MANAGER, "+3615550100", f"ESC {number}", message_sid=sid)
    assert first.status_code == again.status_code == 200
    assert "escalated" in first.text and again.text == first.text, (first.text, again.text)
    assert _events(pager, alert_id, "escalate_now") == 1
    with pager.factory() as s:
        step = s.get(Alert, alert_id).step
    # A new SMS (another MessageSid) is a new order.
    other = fake.inbound_sms(pager.settings.public_url, MANAGER, "+3615550100", f"ESC {number}")
    assert "escalated" in other.text and _events(pager, alert_id, "escalate_now") == 2
    pager.tick()
    with pager.factory() as s:
        assert s.get(Alert, alert_id).step == step + 1


def test_the_same_sms_delivered_twice_at_once_escalates_once(pager, fake) -> None:  # noqa: ANN001
    import threading

    alert_id, number = pager.raise_alert()
    pager.tick()
    fake.wait_for_message(to=ENG2)
    sid, answers = "SM" + "f" * 32, []
    start = threading.Barrier(2)

    def deliver() -> None:
        start.wait()
        answers.append(fake.inbound_sms(pager.settings.public_url, MANAGER, "+3615550100", f"ESC {number}",
                                        message_sid=sid))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    # Whichever came second (waiting on the first's claim, or after its commit) answers as the first did.
    assert [a.status_code for a in answers] == [200, 200] and answers[0].text == answers[1].text, answers
    assert "escalated" in answers[0].text and _events(pager, alert_id, "escalate_now") == 1
