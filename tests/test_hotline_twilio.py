"""End to end: the hotline over Twilio, FakeTwilio driving signed webhooks through the Flask app."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import pytest
from fake_twilio import FakeTwilio, compute_signature
from hotline_helpers import (
    ANNA,
    HOTLINE_NUMBER,
    IN_HOURS,
    NIKOS,
    OUT_OF_HOURS,
    STRANGER,
    Captured,
    call_row,
    recordings,
    tickets,
)
from sqlalchemy import select

from callcenter import timers
from callcenter.models import OutboxMessage, Timer


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(IN_HOURS)


@pytest.fixture
def hotline(app, settings, fake, demo, clock):  # noqa: ANN001, ANN201
    settings.twilio_auth_token = fake.auth_token
    fake.attach_app(app, settings.public_url)
    app.config["HOTLINE_CLOCK"] = clock
    return app


def dial_in(fake: FakeTwilio, settings, caller: str):  # noqa: ANN001, ANN201
    return fake.start_inbound_call(settings.public_url, caller, HOTLINE_NUMBER,
                                   status_callback=settings.public_url + "/twilio/voice/status")


def test_critical_fault_in_hours_ticket_queue_threshold_alert_and_recording(
        hotline, fake, settings, session, session_factory, demo, clock):  # noqa: ANN001
    with Captured() as seen:
        call = dial_in(fake, settings, ANNA)
        assert call.state == "gather"
        # Recording announcement first, in Anna's language, with a Hungarian voice.
        first = call.heard[0]
        assert "rögzítjük" in first.text and first.language == "hu-HU" and first.voice.startswith("Google.hu-HU")
        assert call.started and call.started[0].tag == "Recording"
        assert call.started[0].get("recordingStatusCallback") == settings.public_url + "/twilio/recording"

        call.press("1")
        assert call.state == "enqueue"
        [ticket] = tickets(session)
        assert (ticket.priority, ticket.channel, ticket.category) == ("critical", "phone", "infrastructure")
        assert ticket.reporter_contact_id == demo.anna.id and ticket.company_id == demo.budapest.id
        assert " ".join(str(ticket.number)) in call.transcript
        assert [(e.ticket_id, e.out_of_hours) for e in seen.critical] == [(ticket.id, False)]
        row = call_row(session, call.sid)
        assert row.ticket_id == ticket.id and row.menu_path == "1" and row.queue_entered_at == IN_HOURS
        timer = session.scalar(select(Timer).where(Timer.key == f"hotline-queue:{row.id}"))
        assert timer.due_at == IN_HOURS + timedelta(seconds=600)

        call.queue_wait(queue_time=60)
        assert call.state == "enqueue" and seen.unanswered == []
        # The worker fires the durable timer at the threshold.
        clock.now = IN_HOURS + timedelta(seconds=601)
        assert timers.fire_due(session_factory, clock.now) == 1
        assert [(e.call_id, e.ticket_id) for e in seen.unanswered] == [(row.id, ticket.id)]
        # The next wait poll takes the caller out of the queue: alerted, may leave a message.
        call.queue_wait(queue_time=601)
        assert call.state == "record"
        assert "alerted" not in call.transcript  # Hungarian caller
        assert "ügyeletes mérnököt riasztottuk" in call.transcript
        call.record(duration=12)
        assert call.ended
        assert len(seen.unanswered) == 1  # the wait poll and the queue action did not alert again

    row = call_row(session, call.sid)
    assert row.outcome == "unanswered_message" and row.wait_seconds == 601 and row.unanswered_alerted_at
    [message] = recordings(session, row)
    assert message.kind == "voice_message" and message.ticket_id == ticket.id and message.duration_seconds == 12

    # The whole-call recording callback: a background download, never inside the webhook.
    resp = fake.recording_completed(call.sid, settings.public_url + "/twilio/recording", duration=300)
    assert resp.status_code == 200
    call.hangup(duration=320)
    row = call_row(session, call.sid)
    assert row.ended_at is not None and row.duration_seconds == 320 and row.outcome == "unanswered_message"
    whole = [r for r in recordings(session, row) if r.kind == "whole_call"]
    assert len(whole) == 1 and whole[0].status == "completed"
    downloads = list(session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "download")))
    assert len(downloads) == 2
    assert all(d.destination.endswith(".wav") and d.payload["auth"] == "twilio" for d in downloads)


def test_recording_downloaded_by_worker_marks_recording_stored(hotline, fake, settings, session, session_factory,
                                                                clock):  # noqa: ANN001
    from callcenter import outbox
    from callcenter.providers.download import DownloadProvider

    call = dial_in(fake, settings, ANNA)
    call.press("5")
    fake.recording_completed(call.sid, settings.public_url + "/twilio/recording", recording_sid="RE" + "1" * 32)
    settings.twilio_account_sid = fake.account_sid
    provider = DownloadProvider(settings)
    # The fake serves recordings on its own base URL; point the stored URL there.
    assert outbox.drain(session_factory, {"download": provider}, lambda: clock.now) == 1
    [rec] = recordings(session, call_row(session, call.sid))
    assert rec.status == "stored" and rec.local_path.endswith(".wav")
    assert (settings.recordings_path / rec.local_path).stat().st_size > 0


def test_business_hours_customer_permission_change_refused_no_ticket(hotline, fake, settings, session):  # noqa: ANN001
    call = dial_in(fake, settings, ANNA)
    call.press("5")
    assert call.ended
    assert "csak írásban" in call.transcript
    assert tickets(session) == []
    row = call_row(session, call.sid)
    assert row.outcome == "permission_refused" and row.menu_path == "5"


def test_unknown_caller_goes_to_sales(hotline, fake, settings, session):  # noqa: ANN001
    call = dial_in(fake, settings, STRANGER)
    assert call.state == "dial"
    assert call.heard[-1].kind == "dial" and call.heard[-1].text == settings.sales_number
    assert "Sales" in call.transcript  # default language en
    assert call_row(session, call.sid).outcome == "sales"


def test_menu_zero_is_sales(hotline, fake, settings, session):  # noqa: ANN001
    call = dial_in(fake, settings, ANNA)
    call.press("0")
    assert call.state == "dial" and call.heard[-1].text == settings.sales_number


def test_out_of_hours_standby_customer_alert_at_once(hotline, fake, settings, session, clock, demo):  # noqa: ANN001
    clock.now = OUT_OF_HOURS
    with Captured() as seen:
        call = dial_in(fake, settings, NIKOS)
        assert call.heard[0].language == "el-GR" and call.heard[0].voice.startswith("Google.el-GR")
        call.press("1")
        [ticket] = tickets(session)
        assert ticket.asset_id == demo.pbx.id and ticket.priority == "critical"
        assert [(e.ticket_id, e.out_of_hours) for e in seen.critical] == [(ticket.id, True)]
        assert call.state == "record"  # standby path: on-call alerted, describe the fault
        call.record(duration=20)
    row = call_row(session, call.sid)
    assert row.outcome == "critical_standby" and row.out_of_hours and row.queue_entered_at is None


def test_out_of_hours_business_hours_customer_hears_hours_and_leaves_message(
        hotline, fake, settings, session, clock):  # noqa: ANN001
    clock.now = OUT_OF_HOURS
    with Captured() as seen:
        call = dial_in(fake, settings, ANNA)
        assert call.state == "record"
        assert "8 és 17 óra" in call.transcript
        call.record(duration=15)
    [ticket] = tickets(session)
    assert ticket.priority == "normal" and seen.critical == []
    assert " ".join(str(ticket.number)) in call.transcript
    assert call_row(session, call.sid).outcome == "message"


def test_ticket_status_of_own_company_only(hotline, fake, settings, session, demo, clock):  # noqa: ANN001
    from callcenter.tickets import NewTicket, create_ticket

    own = create_ticket(session, NewTicket("Printer", "phone", "user", company_id=demo.budapest.id), now=IN_HOURS)
    other = create_ticket(session, NewTicket("PBX", "phone", "user", company_id=demo.athens.id), now=IN_HOURS)
    session.commit()
    call = dial_in(fake, settings, ANNA)
    call.press("3").press(f"{own.number}#")
    assert " ".join(str(own.number)) in call.transcript and call.ended
    call2 = dial_in(fake, settings, ANNA)
    call2.press("3").press(f"{other.number}#")
    assert "nem találtunk" in call2.transcript
    assert call_row(session, call2.sid).menu_path == f"3>#{other.number}"


def test_invalid_digit_and_silence_repeat_menu_then_goodbye(hotline, fake, settings, session):  # noqa: ANN001
    call = dial_in(fake, settings, ANNA)
    call.press("9")
    assert call.state == "gather" and "Érvénytelen" in call.transcript
    call.gather_timeout()
    call.gather_timeout()
    assert call.ended
    assert call_row(session, call.sid).outcome == "no_input"


@pytest.mark.parametrize("digits", ["", "3", "2", "4"])
def test_hangup_in_the_middle_of_each_menu(hotline, fake, settings, session, digits):  # noqa: ANN001
    call = dial_in(fake, settings, ANNA)
    if digits:
        call.press(digits)
    call.hangup(duration=7)
    row = call_row(session, call.sid)
    assert row.outcome == "hangup_in_menu" and row.ended_at is not None and row.duration_seconds == 7
    assert tickets(session) == []


def test_hangup_while_queued_is_abandoned(hotline, fake, settings, session):  # noqa: ANN001
    call = dial_in(fake, settings, ANNA)
    call.press("1")
    call.hangup()
    row = call_row(session, call.sid)
    assert row.outcome == "abandoned_in_queue" and row.queue_left_at is not None
    timer = session.scalar(select(Timer).where(Timer.key == f"hotline-queue:{row.id}"))
    assert timer.cancelled_at is not None


def test_agent_answer_cancels_the_watch(hotline, fake, settings, session, session_factory, clock):  # noqa: ANN001
    with Captured() as seen:
        call = dial_in(fake, settings, ANNA)
        call.press("1")
        call.queue_result("bridged", queue_time=45)
        clock.now = IN_HOURS + timedelta(hours=1)
        assert timers.fire_due(session_factory, clock.now) == 0
        assert seen.unanswered == []
    row = call_row(session, call.sid)
    assert row.outcome == "answered" and row.answered_at == IN_HOURS + timedelta(seconds=45)
    assert row.wait_seconds == 45


def test_duplicate_and_out_of_order_status_callbacks(hotline, fake, settings, session):  # noqa: ANN001
    call = dial_in(fake, settings, ANNA)
    completed = fake.prepare_call_status(call.sid, "completed", duration=30, sequence_number=5, force=True)
    ringing = fake.prepare_call_status(call.sid, "ringing", sequence_number=1, force=True)
    answered = fake.prepare_call_status(call.sid, "in-progress", sequence_number=2, force=True)
    assert fake.deliver(completed).status_code == 200
    assert fake.deliver(completed).status_code == 200  # Twilio retried
    assert fake.deliver(ringing).status_code == 200
    assert fake.deliver(answered).status_code == 200
    row = call_row(session, call.sid)
    assert row.provider_status == "completed" and row.status_sequence == 5 and row.ended_at is not None
    assert row.duration_seconds == 30


def test_recording_callbacks_duplicate_and_out_of_order(hotline, fake, settings, session):  # noqa: ANN001
    url = settings.public_url + "/twilio/recording"
    sid = "RE" + "a" * 32
    # The recording is reported before the call itself is known (the callbacks raced the webhook).
    fake.recording_completed("CA" + "b" * 32, url, recording_sid=sid, duration=40)
    fake.recording_completed("CA" + "b" * 32, url, recording_sid=sid, duration=40)
    fake.recording_completed("CA" + "b" * 32, url, recording_sid=sid, status="in-progress")
    row = call_row(session, "CA" + "b" * 32)
    [rec] = recordings(session, row)
    assert rec.status == "completed" and rec.duration_seconds == 40
    downloads = list(session.scalars(select(OutboxMessage).where(OutboxMessage.source_kind == "recording")))
    assert len(downloads) == 1


@pytest.mark.parametrize("path", ["/twilio/voice", "/twilio/voice/status", "/twilio/recording",
                                  "/twilio/voice/fallback", "/twilio/voice/step?step=menu", "/twilio/voice/wait"])
def test_forged_or_missing_signature_is_403(hotline, client, fake, settings, path):  # noqa: ANN001
    params = {"CallSid": "CA" + "c" * 32, "From": ANNA, "To": HOTLINE_NUMBER, "CallStatus": "ringing"}
    assert client.post(path, data=params, base_url=settings.public_url).status_code == 403
    forged = compute_signature("not-the-token", settings.public_url + path, params)
    resp = client.post(path, data=params, base_url=settings.public_url, headers={"X-Twilio-Signature": forged})
    assert resp.status_code == 403
    good = compute_signature(fake.auth_token, settings.public_url + path, params)
    tampered = dict(params, From=STRANGER)
    resp = client.post(path, data=tampered, base_url=settings.public_url, headers={"X-Twilio-Signature": good})
    assert resp.status_code == 403


def test_database_down_routes_to_emergency_number(settings, fake, tmp_path):  # noqa: ANN001
    from callcenter.app import create_app
    from callcenter.db import make_engine

    settings.twilio_auth_token = fake.auth_token
    broken = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 2})
    app = create_app(settings, broken)
    fake.attach_app(app, settings.public_url)
    call = dial_in(fake, settings, ANNA)
    assert call.state == "dial" and call.heard[-1].text == settings.emergency_number
    assert "on-call" in call.transcript
    root = ET.fromstring(call.documents[-1][1])
    assert [c.tag for c in root] == ["Say", "Dial", "Hangup"]


def test_fallback_url_routes_to_emergency_number(hotline, fake, settings):  # noqa: ANN001
    resp = fake.post_signed(settings.public_url + "/twilio/voice/fallback",
                            {"CallSid": "CA" + "d" * 32, "ErrorCode": "11200", "From": ANNA})
    assert resp.status_code == 200
    root = ET.fromstring(resp.text)
    assert root.find("Dial").text == settings.emergency_number
