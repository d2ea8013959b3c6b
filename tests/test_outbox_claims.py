"""Outbox claims belong to one claimant: a slow sender keeps its rows, a dead one's rows are
reconciled once, a success is recorded only by the claimant, and voice reconciliation finds the
exact call (issue 11 item 1)."""

from __future__ import annotations

import threading
from datetime import timedelta

from fake_twilio import FakeTwilio
from sqlalchemy import select

from callcenter import outbox, outbox_send
from callcenter.models import OutboxAttempt, OutboxMessage, OutboxState
from callcenter.providers import SendResult
from callcenter.providers.twilio import TwilioProvider


class SlowProvider:
    """Each send takes 10 s of the shared clock (a slow Twilio); Twilio never knows unsent rows."""

    name = "slow"

    def __init__(self, clock: list, on_send=None) -> None:  # noqa: ANN001
        self.clock, self.on_send = clock, on_send
        self.sent: list[str] = []
        self.lock = threading.Lock()

    def send(self, message) -> SendResult:  # noqa: ANN001
        with self.lock:
            self.sent.append(message.payload["body"])
        self.clock[0] += timedelta(seconds=10)
        if self.on_send is not None:
            self.on_send(message)
        return SendResult(ref=f"SM{message.id}-{len(self.sent)}", status="queued")

    def reconcile(self, message):  # noqa: ANN001, ANN201
        return None


def _enqueue(factory, now, count: int, channel: str = "sms", to: str = "+3615550182") -> None:  # noqa: ANN001
    with factory() as s:
        for i in range(count):
            outbox.enqueue(s, key=f"page-{i}", channel=channel, destination=to, payload={"body": f"page-{i}"},
                           now=now)
        s.commit()


def test_a_slow_drain_keeps_its_rows_while_another_drain_runs(session_factory, now, monkeypatch):
    """Reproduction: a batch claimed at once outlived its lease while being sent one by one, and a
    second drain put the rest back to pending and sent them too: ['page-0', 'page-1', 'page-2', 'page-2']."""
    # One send at a time: the shared clock adds up every send's 10 s, which models requests in a row
    # (concurrent requests would pass that time together, not one after another).
    monkeypatch.setattr(outbox_send, "SEND_THREADS", 1)
    _enqueue(session_factory, now, 20)
    clock = [now]
    other = SlowProvider(clock)
    ran_other = []

    def second_drain_meanwhile(message) -> None:  # noqa: ANN001
        # Well past the 2-minute lease of the first drain's batch, a second drain (another worker) runs.
        if clock[0] - now > timedelta(minutes=2, seconds=30) and not ran_other:
            ran_other.append(outbox.drain(session_factory, {"sms": other}, lambda: clock[0]))

    first = SlowProvider(clock, on_send=second_drain_meanwhile)
    outbox.drain(session_factory, {"sms": first}, lambda: clock[0])
    outbox.drain(session_factory, {"sms": first}, lambda: clock[0] + timedelta(minutes=30))
    sent = first.sent + other.sent
    assert ran_other, "the second drain never ran"
    assert sorted(sent) == sorted(f"page-{i}" for i in range(20)), sorted(sent)
    with session_factory() as s:
        assert set(s.scalars(select(OutboxMessage.state))) == {OutboxState.SENT}


def test_only_the_claimant_records_success(session_factory, now):
    """A claimant that lost its row (declared dead, reconciled, resent by another) changes nothing."""
    _enqueue(session_factory, now, 1)
    with session_factory() as s:
        [claim] = outbox.claim_due(s, now, claimant=outbox.Claimant("dead-worker"))
        s.commit()
    later = now + outbox.LEASE + outbox.HEARTBEAT_TIMEOUT + timedelta(seconds=1)
    survivor = SlowProvider([later])
    outbox.drain(session_factory, {"sms": survivor}, lambda: later)  # reconciled, resent once
    assert survivor.sent == ["page-0"]
    with session_factory() as s:
        msg = s.get(OutboxMessage, claim.message_id)
        good_ref = msg.provider_ref
    # The old claimant wakes up and reports the send it thought it made.
    outbox_send.record_success(session_factory, claim, later, "slow", SendResult(ref="SM-stale", status="queued"))
    with session_factory() as s:
        msg = s.get(OutboxMessage, claim.message_id)
        assert (msg.state, msg.provider_ref) == (OutboxState.SENT, good_ref)
        outcomes = [a.outcome for a in s.scalars(select(OutboxAttempt).order_by(OutboxAttempt.id))]
    assert outcomes == ["resend", "accepted", "lost_claim"]


def test_a_live_claimant_is_not_reconciled_even_past_its_lease(session_factory, now):
    _enqueue(session_factory, now, 1)
    worker = outbox.Claimant("slow-worker")
    with session_factory() as s:
        outbox.claim_due(s, now, claimant=worker)
        s.commit()
    later = now + outbox.LEASE * 3
    outbox.heartbeat(session_factory, worker, later)  # its process is alive, just slow
    other = SlowProvider([later])
    outbox.drain(session_factory, {"sms": other}, lambda: later)
    assert other.sent == []
    with session_factory() as s:
        assert s.scalar(select(OutboxMessage.state)) == OutboxState.SENDING


def _twilio(settings, fake) -> TwilioProvider:  # noqa: ANN001
    settings.twilio_account_sid, settings.twilio_auth_token = fake.account_sid, fake.auth_token
    settings.twilio_from_number, settings.twilio_api_url = "+3615550199", fake.base_url
    return TwilioProvider(settings)


def _voice(session, key: str, now, to: str = "+3615550182") -> OutboxMessage:  # noqa: ANN001
    return outbox.enqueue(session, key=key, channel="voice", destination=to, now=now,
                          payload={"url": "/twilio/page/voice", "status_callback": "/twilio/page/call-status",
                                   "status_callback_events": ["initiated", "ringing", "answered", "completed"]})


def test_voice_reconciliation_matches_the_exact_call_not_any_call_to_the_number(settings, session_factory, now):
    with FakeTwilio() as fake:
        provider = _twilio(settings, fake)
        with session_factory() as s:
            _voice(s, "other-page", now)
            s.commit()
        outbox.drain(session_factory, {"voice": provider}, lambda: now)  # another page rings that number
        fake.wait_for_call(to="+3615550182")
        with session_factory() as s:
            mine = _voice(s, "my-page", now)
            s.commit()
            outbox.claim_due(s, now, claimant=outbox.Claimant("dies-before-sending"))
            s.commit()
        later = now + outbox.LEASE + outbox.HEARTBEAT_TIMEOUT + timedelta(seconds=1)
        outbox.drain(session_factory, {"voice": provider}, lambda: later)
        fake.wait_for_call(to="+3615550182")  # the page that was never placed is placed now
        fake.assert_nothing_unexpected()
        with session_factory() as s:
            refs = list(s.scalars(select(OutboxMessage.provider_ref)))
            assert len(set(refs)) == 2 and s.get(OutboxMessage, mine.id).state == OutboxState.SENT


def test_voice_call_placed_before_the_claimant_died_is_found_by_its_identifier(settings, session_factory, now):
    with FakeTwilio() as fake:
        provider = _twilio(settings, fake)
        with session_factory() as s:
            _voice(s, "my-page", now)
            s.commit()
            [claim] = outbox.claim_due(s, now, claimant=outbox.Claimant("dies-after-sending"))
            s.commit()
        with session_factory() as s:
            placed = provider.send(outbox.Snapshot(s.get(OutboxMessage, claim.message_id), claim))
        fake.wait_for_call(to="+3615550182")
        with session_factory() as s:
            _voice(s, "next-page", now)  # a later page to the same number, sent normally
            s.commit()
        later = now + outbox.LEASE + outbox.HEARTBEAT_TIMEOUT + timedelta(seconds=1)
        outbox.drain(session_factory, {"voice": provider}, lambda: later)
        fake.wait_for_call(to="+3615550182")
        outbox.drain(session_factory, {"voice": provider}, lambda: later + timedelta(minutes=10))
        fake.assert_nothing_unexpected()
        with session_factory() as s:
            msg = s.get(OutboxMessage, claim.message_id)
            assert (msg.state, msg.provider_ref) == (OutboxState.SENT, placed.ref)


def test_a_status_callback_names_its_row_before_the_sender_recorded_the_sid(settings, session_factory, now):
    """Twilio's 'initiated' callback can beat the worker's commit; our identifier in its URL ties it
    to the row, so a claimant that dies right after the send leaves nothing to guess."""
    with FakeTwilio() as fake:
        provider = _twilio(settings, fake)
        with session_factory() as s:
            _voice(s, "my-page", now)
            s.commit()
            [claim] = outbox.claim_due(s, now, claimant=outbox.Claimant("dies-after-sending"))
            s.commit()
        with session_factory() as s:
            placed = provider.send(outbox.Snapshot(s.get(OutboxMessage, claim.message_id), claim))
        call = fake.wait_for_call(to="+3615550182")
        ident = outbox.parse_claim_ref(call.status_callback.split("o=", 1)[1])
        with session_factory() as s:
            outbox.record_status(s, call.sid, "initiated", now, sequence=0, claim_ref=ident)
            s.commit()
        later = now + outbox.LEASE + outbox.HEARTBEAT_TIMEOUT + timedelta(seconds=1)
        outbox.drain(session_factory, {"voice": provider}, lambda: later)
        fake.assert_nothing_unexpected()
        with session_factory() as s:
            msg = s.get(OutboxMessage, claim.message_id)
            assert (msg.state, msg.provider_ref) == (OutboxState.SENT, placed.ref)


def test_a_page_storm_does_not_hide_the_dead_claimants_pages_from_reconciliation(settings, session_factory, now):
    """60 more pages to the same engineer after the claimant died: its SMS and call are no longer among
    the 50 newest Twilio lists first. Found by bench/chaos_bench.py: they were sent a second time."""
    with FakeTwilio() as fake:
        provider = _twilio(settings, fake)
        with session_factory() as s:
            outbox.enqueue(s, key="my-sms", channel="sms", destination="+3615550182", payload={"body": "mine"},
                           now=now)
            _voice(s, "my-call", now)
            s.commit()
            claims = outbox.claim_due(s, now, claimant=outbox.Claimant("dies-after-sending"))
            s.commit()
        with session_factory() as s:
            placed = {c.message_id: provider.send(outbox.Snapshot(s.get(OutboxMessage, c.message_id), c)).ref
                      for c in claims}
        with session_factory() as s:
            for i in range(60):
                outbox.enqueue(s, key=f"storm-sms-{i}", channel="sms", destination="+3615550182",
                               payload={"body": f"storm {i}"}, now=now)
                _voice(s, f"storm-call-{i}", now)
            s.commit()
        while outbox.drain(session_factory, {"sms": provider, "voice": provider}, lambda: now, limit=200):
            pass
        later = now + outbox.LEASE + outbox.HEARTBEAT_TIMEOUT + timedelta(seconds=1)
        outbox.drain(session_factory, {"sms": provider, "voice": provider}, lambda: later)
        assert len(fake.messages) == len(fake.calls) == 61
        with session_factory() as s:
            for message_id, ref in placed.items():
                msg = s.get(OutboxMessage, message_id)
                assert (msg.state, msg.provider_ref) == (OutboxState.SENT, ref)


class _ExitingPool:
    """A thread pool at interpreter exit: it took `take` sends, then refuses new ones."""

    def __init__(self, take: int) -> None:
        self.take, self.pool = take, outbox_send._executor()

    def submit(self, fn, *args):  # noqa: ANN001, ANN201
        if self.take <= 0:
            raise RuntimeError("cannot schedule new futures after interpreter shutdown")
        self.take -= 1
        return self.pool.submit(fn, *args)


def test_a_batch_sent_while_the_process_exits_sends_each_row_once(session_factory, now, monkeypatch):
    """A worker stopping mid-drain: the pool refuses new threads after taking some sends; the rest go
    from the draining thread, each once, and every row is recorded (none left in 'sending')."""
    _enqueue(session_factory, now, 6)
    provider = SlowProvider([now])
    monkeypatch.setattr(outbox_send, "_executor", lambda pool=_ExitingPool(2): pool)
    assert outbox.drain(session_factory, {"sms": provider}, lambda: now) == 6
    assert sorted(provider.sent) == sorted(f"page-{i}" for i in range(6))
    with session_factory() as s:
        assert set(s.scalars(select(OutboxMessage.state))) == {OutboxState.SENT}


def test_mails_to_one_address_go_in_their_order_while_pages_go_at_once(session_factory, now):
    """A batch is sent concurrently, but a reader follows a ticket's mails in the order they were
    written: a later mail to the same address never overtakes an earlier one."""
    import time

    with session_factory() as s:
        for i in range(5):
            outbox.enqueue(s, key=f"mail-{i}", channel="email", destination="Anna@Example.test",
                           payload={"body": f"mail-{i}"}, now=now)
            outbox.enqueue(s, key=f"page-{i}", channel="sms", destination="+3615550182",
                           payload={"body": f"page-{i}"}, now=now)
        s.commit()
    order: list[str] = []

    class Slower:
        """The earlier the message, the slower its request: sent all at once, they would finish reversed."""

        name = "slow"

        def send(self, message) -> SendResult:  # noqa: ANN001
            time.sleep(0.05 * (5 - int(message.payload["body"][-1])))
            order.append(message.payload["body"])
            return SendResult(ref=f"R{message.id}", status="queued")

    assert outbox.drain(session_factory, {"email": Slower(), "sms": Slower()}, lambda: now) == 10
    assert [m for m in order if m.startswith("mail")] == [f"mail-{i}" for i in range(5)]
    assert sorted(m for m in order if m.startswith("page")) == [f"page-{i}" for i in range(5)]
