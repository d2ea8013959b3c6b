"""Recording callbacks missed while the database was down (issue 11 item 8): the worker lists
Twilio's recent recordings and fetches what we lack, once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fake_twilio import FakeCall, new_sid
from hotline_helpers import ANNA, HOTLINE_NUMBER, IN_HOURS, call_row, recordings
from sqlalchemy import func, select

from callcenter.models import Call, OutboxMessage
from callcenter.providers import providers_for
from callcenter.scheduler import Ticker


@pytest.fixture
def worker(app, settings, engine, fake, demo):  # noqa: ANN001, ANN201
    settings.twilio_account_sid, settings.twilio_auth_token = fake.account_sid, fake.auth_token
    settings.twilio_api_url, settings.twilio_from_number = fake.base_url, "+3615550100"
    fake.attach_app(app, settings.public_url)
    app.config["HOTLINE_CLOCK"] = lambda: IN_HOURS
    return Ticker(settings, engine, providers=providers_for(settings), clock=lambda: IN_HOURS + timedelta(minutes=30))


def _downloads(session) -> int:  # noqa: ANN001
    return session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.channel == "download"))


def test_a_recording_whose_callback_never_came_is_fetched_once(worker, fake, settings, session):  # noqa: ANN001
    call = fake.start_inbound_call(settings.public_url, ANNA, HOTLINE_NUMBER,
                                   status_callback=settings.public_url + "/twilio/voice/status")
    call.press("5")
    call.hangup(duration=40)
    # Twilio finished the whole-call recording while our database was down: its callback is lost.
    sid = fake.add_recording(call.sid, duration=40).rsplit("/", 1)[1]
    worker.tick()
    [rec] = [r for r in recordings(session, call_row(session, call.sid)) if r.provider_recording_id == sid]
    assert rec.status == "stored" and rec.kind == "whole_call"
    assert (settings.recordings_path / rec.local_path).stat().st_size > 0
    worker.tick()
    # The late callback (had Twilio retried) changes nothing either.
    fake.post_signed(settings.public_url + "/twilio/recording", [
        ("AccountSid", fake.account_sid), ("CallSid", call.sid), ("RecordingSid", sid),
        ("RecordingUrl", fake.recording_url(sid)), ("RecordingStatus", "completed"), ("RecordingDuration", "40")])
    worker.tick()
    session.expire_all()
    assert _downloads(session) == 1 and fake.recording_fetches[sid] == 1


def test_recordings_we_have_are_left_alone(worker, fake, settings, session):  # noqa: ANN001
    call = fake.start_inbound_call(settings.public_url, ANNA, HOTLINE_NUMBER,
                                   status_callback=settings.public_url + "/twilio/voice/status")
    call.press("5")
    sid = fake.recording_completed(call.sid, settings.public_url + "/twilio/recording").url
    worker.tick()
    worker.tick()
    assert _downloads(session) == 1
    [fetched] = fake.recording_fetches.values()
    assert fetched == 1 and sid


def test_a_recording_of_a_call_we_never_saw_keeps_the_call_ended(worker, fake, session):  # noqa: ANN001
    # The whole call happened while we were down: only Twilio knows it.
    unknown = FakeCall(sid=new_sid("CA"), to=HOTLINE_NUMBER, from_=ANNA, direction="inbound", status="completed")
    fake.calls.append(unknown)
    sid = fake.add_recording(unknown.sid, duration=12, source="StartCallRecordingAPI").rsplit("/", 1)[1]
    worker.tick()
    row = session.scalar(select(Call).where(Call.provider_call_id == unknown.sid))
    assert row is not None and row.ended_at is not None and row.caller_number == ANNA
    [rec] = recordings(session, row)
    assert rec.provider_recording_id == sid and rec.status == "stored"
