"""Outbox and timers: idempotent, retried with backoff, claimed exactly once by concurrent workers."""

import threading
from datetime import timedelta

from fake_twilio import FakeTwilio
from sqlalchemy import func, select

from callcenter import outbox, timers
from callcenter.models import OutboxAttempt, OutboxMessage, OutboxState, Timer
from callcenter.providers import PermanentError, SendResult, TemporaryError
from callcenter.providers.twilio import TwilioProvider


class ScriptedProvider:
    name = "scripted"

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.sent = []
        self.lock = threading.Lock()

    def send(self, message):
        with self.lock:
            self.sent.append(message.idempotency_key)
            outcome = self.outcomes.pop(0) if self.outcomes else "ok"
        if isinstance(outcome, Exception):
            raise outcome
        return SendResult(ref=f"ref-{message.id}", status="queued")


def test_enqueue_is_idempotent(session, now):
    a = outbox.enqueue(session, key="k1", channel="sms", destination="+3615550101", payload={"body": "x"}, now=now)
    b = outbox.enqueue(session, key="k1", channel="sms", destination="+3615550101", payload={"body": "y"}, now=now)
    session.commit()
    assert a.id == b.id
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_retry_with_backoff_then_permanent_failure(session_factory, now):
    with session_factory() as s:
        outbox.enqueue(s, key="k", channel="sms", destination="+3615550101", payload={"body": "x"}, now=now)
        s.commit()
    provider = ScriptedProvider(TemporaryError("503"), PermanentError("invalid To", "21211"))
    clock = [now]
    assert outbox.drain(session_factory, {"sms": provider}, lambda: clock[0]) == 1
    with session_factory() as s:
        msg = s.scalar(select(OutboxMessage))
        assert msg.state == OutboxState.PENDING and msg.next_attempt_at == now + timedelta(seconds=15)
    assert outbox.drain(session_factory, {"sms": provider}, lambda: clock[0]) == 0  # not due yet
    clock[0] = now + timedelta(seconds=16)
    assert outbox.drain(session_factory, {"sms": provider}, lambda: clock[0]) == 1
    with session_factory() as s:
        msg = s.scalar(select(OutboxMessage))
        assert msg.state == OutboxState.FAILED and msg.error_code == "21211" and msg.attempts == 2
        outcomes = [a.outcome for a in s.scalars(select(OutboxAttempt).order_by(OutboxAttempt.id))]
        assert outcomes == ["retry", "failed"]


def test_status_reports_never_go_backwards(session_factory, now):
    with session_factory() as s:
        outbox.enqueue(s, key="k", channel="sms", destination="+3615550101", payload={"body": "x"}, now=now)
        s.commit()
    outbox.drain(session_factory, {"sms": ScriptedProvider()}, lambda: now)
    with session_factory() as s:
        ref = s.scalar(select(OutboxMessage.provider_ref))
        outbox.record_status(s, ref, "delivered", now, sequence=None)
        outbox.record_status(s, ref, "sent", now, sequence=None)  # late, out of order
        s.commit()
        assert s.scalar(select(OutboxMessage.state)) == OutboxState.DELIVERED


def test_stuck_sending_is_not_resent(session_factory, now):
    with session_factory() as s:
        outbox.enqueue(s, key="k", channel="sms", destination="+3615550101", payload={"body": "x"}, now=now)
        outbox.claim_due(s, now)
        s.commit()
    provider = ScriptedProvider()
    outbox.drain(session_factory, {"sms": provider}, lambda: now + timedelta(minutes=5))
    assert provider.sent == []
    with session_factory() as s:
        assert s.scalar(select(OutboxMessage.provider_status)) == "unknown"


def test_concurrent_drains_send_each_message_once(session_factory, now):
    with session_factory() as s:
        for i in range(60):
            outbox.enqueue(s, key=f"k{i}", channel="sms", destination="+3615550101", payload={"body": str(i)}, now=now)
        s.commit()
    provider = ScriptedProvider()
    threads = [threading.Thread(target=lambda: [outbox.drain(session_factory, {"sms": provider}, lambda: now, 7)
                                               for _ in range(12)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(provider.sent) == sorted(f"k{i}" for i in range(60))


def test_timer_fires_once_and_cancelled_never(session_factory, now):
    fired = []
    timers.register("test-kind", lambda s, t, n: fired.append(t.key))
    with session_factory() as s:
        timers.schedule(s, key="a", kind="test-kind", due_at=now, now=now)
        timers.schedule(s, key="a", kind="test-kind", due_at=now, now=now)  # harmless twice
        timers.schedule(s, key="b", kind="test-kind", due_at=now, now=now)
        timers.schedule(s, key="later", kind="test-kind", due_at=now + timedelta(hours=1), now=now)
        timers.cancel(s, "b", now)
        s.commit()
    threads = [threading.Thread(target=timers.fire_due, args=(session_factory, now, f"w{i}")) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fired == ["a"]
    timers.fire_due(session_factory, now + timedelta(hours=2))
    assert fired == ["a", "later"]


def test_failing_handler_is_retried_and_its_writes_roll_back(session_factory, now):
    calls = []

    def handler(s, t, n):
        calls.append(n)
        outbox.enqueue(s, key=f"from-timer-{len(calls)}", channel="sms", destination="+3615550101",
                       payload={"body": "x"}, now=n)
        if len(calls) == 1:
            raise RuntimeError("boom")

    timers.register("flaky", handler)
    with session_factory() as s:
        timers.schedule(s, key="f", kind="flaky", due_at=now, now=now)
        s.commit()
    timers.fire_due(session_factory, now)
    with session_factory() as s:
        t = s.scalar(select(Timer))
        assert t.fired_at is None and "boom" in t.error
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    timers.fire_due(session_factory, now + timedelta(minutes=2))
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_twilio_provider_against_fake(settings, session_factory, now):
    with FakeTwilio() as fake:
        settings.twilio_account_sid, settings.twilio_auth_token = fake.account_sid, fake.auth_token
        settings.twilio_from_number, settings.twilio_api_url = "+3615550199", fake.base_url
        provider = TwilioProvider(settings)
        with session_factory() as s:
            outbox.enqueue(s, key="sms1", channel="sms", destination="+3615550101", payload={"body": "hello"},
                           now=now)
            outbox.enqueue(s, key="bad", channel="sms", destination="+3615550102", payload={"body": "x"}, now=now)
            s.commit()
        fake.reject_number("+3615550102")
        fake.fail_next(1, status=503, path_contains="Messages")
        outbox.drain(session_factory, {"sms": provider}, lambda: now)
        outbox.drain(session_factory, {"sms": provider}, lambda: now + timedelta(minutes=1))
        msg = fake.wait_for_message(to="+3615550101")
        assert msg.body == "hello"
        with session_factory() as s:
            states = dict(s.execute(select(OutboxMessage.idempotency_key, OutboxMessage.state)).all())
        assert states == {"sms1": "sent", "bad": "failed"}


def _twilio(settings, fake):
    settings.twilio_account_sid, settings.twilio_auth_token = fake.account_sid, fake.auth_token
    settings.twilio_from_number, settings.twilio_api_url = "+3615550199", fake.base_url
    return TwilioProvider(settings)


def test_worker_killed_after_claim_before_send_the_page_is_sent_once(settings, session_factory, now):
    with FakeTwilio() as fake:
        provider = _twilio(settings, fake)
        with session_factory() as s:
            outbox.enqueue(s, key="page", channel="sms", destination="+3615550182", payload={"body": "PBX down"},
                           now=now)
            outbox.claim_due(s, now)  # ... and the worker dies here
            s.commit()
        outbox.drain(session_factory, {"sms": provider}, lambda: now + timedelta(seconds=10))
        assert fake.messages == []  # not yet: it may still be in flight
        outbox.drain(session_factory, {"sms": provider}, lambda: now + timedelta(minutes=1))
        fake.wait_for_message(to="+3615550182", body_contains="PBX down")
        outbox.drain(session_factory, {"sms": provider}, lambda: now + timedelta(minutes=10))
        fake.assert_nothing_unexpected()
        with session_factory() as s:
            outcomes = [a.outcome for a in s.scalars(select(OutboxAttempt).order_by(OutboxAttempt.id))]
            assert outcomes == ["resend", "accepted"]


def test_worker_killed_after_twilio_accepted_is_not_paged_twice(settings, session_factory, now):
    with FakeTwilio() as fake:
        provider = _twilio(settings, fake)
        with session_factory() as s:
            outbox.enqueue(s, key="page", channel="sms", destination="+3615550182", payload={"body": "PBX down"},
                           now=now)
            [claim] = outbox.claim_due(s, now)
            s.commit()
            message_id = claim.message_id
            snapshot = outbox.Snapshot(s.get(OutboxMessage, message_id), claim)
        sent = provider.send(snapshot)  # Twilio accepted it; the worker died before recording that
        fake.wait_for_message(to="+3615550182")
        outbox.drain(session_factory, {"sms": provider}, lambda: now + timedelta(minutes=3))
        outbox.drain(session_factory, {"sms": provider}, lambda: now + timedelta(minutes=10))
        fake.assert_nothing_unexpected()
        with session_factory() as s:
            msg = s.get(OutboxMessage, message_id)
            assert (msg.state, msg.provider_ref) == ("sent", sent.ref)
