"""Ghost callers after a crash: a call whose AGI process died, or whose Twilio call ended while we did not hear
it, is closed with outcome `lost`; the queue's no-answer timer pages nobody about a caller who is gone, and an
alert already raised for one is resolved with that reason. Service level, explicit `now`, both databases."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from hotline_helpers import ANNA, HOTLINE_NUMBER, IN_HOURS, Captured, call_row
from sqlalchemy import select

from callcenter import call_presence, calls, events, timers
from callcenter.call_presence import Heartbeat, beat, close_lost_call, sweep_lost_calls
from callcenter.db import session_scope
from callcenter.ivr.engine import FlowEngine, Input
from callcenter.models import Alert, AlertStatus, OutboxMessage, Timer
from callcenter.outbox import drain

PROCESS = "agi:pbx-host:4242:abc123"
LOST = timedelta(seconds=30)


class Seen:
    """CallLost and CallEnded events, to count how often each call was closed."""

    def __init__(self) -> None:
        self.lost: list[events.CallLost] = []
        self.ended: list[int] = []

    def _lost(self, _s, event: events.CallLost) -> None:  # noqa: ANN001
        self.lost.append(event)

    def _ended(self, _s, event: events.CallEnded) -> None:  # noqa: ANN001
        self.ended.append(event.call_id)

    def __enter__(self) -> Seen:
        events.subscribe(events.CallLost, self._lost)
        events.subscribe(events.CallEnded, self._ended)
        return self

    def __exit__(self, *exc: object) -> None:
        events.unsubscribe(events.CallLost, self._lost)
        events.unsubscribe(events.CallEnded, self._ended)


@pytest.fixture
def factory(session_factory, settings):  # noqa: ANN001, ANN201
    from callcenter.wiring import load_services

    load_services()  # paging hears of unanswered and lost callers
    session_factory.kw["info"] = {"settings": settings}
    return session_factory


@pytest.fixture
def flow(settings) -> FlowEngine:  # noqa: ANN001
    return FlowEngine(settings)


def queued_agi_call(factory, flow: FlowEngine, uid: str, owner: str | None = PROCESS, at=IN_HOURS) -> int:  # noqa: ANN001
    """An Asterisk caller who pressed 1 and waits in the queue, served by `owner`."""
    with session_scope(factory) as s:
        beat(s, PROCESS, at)
        turn = flow.start(s, channel="asterisk", provider_call_id=uid, caller=ANNA, now=at, owner=owner)
        flow.advance(s, uid, "menu", Input("digits", digits="1"), at)
    return turn.call_id


def twilio_call_at_menu(factory, flow: FlowEngine, sid: str, at=IN_HOURS) -> int:  # noqa: ANN001
    with session_scope(factory) as s:
        return flow.start(s, channel="twilio", provider_call_id=sid, caller=ANNA, called=HOTLINE_NUMBER,
                          now=at).call_id


def fire_queue_timer(factory, at) -> int:  # noqa: ANN001, ANN202
    return timers.fire_due(factory, at, "worker-test")


def test_calls_of_a_process_that_stopped_beating_are_closed_as_lost(factory, flow, session, demo):  # noqa: ANN001
    queued = queued_agi_call(factory, flow, "1795303247.1")
    with session_scope(factory) as s:
        flow.start(s, channel="asterisk", provider_call_id="1795303247.2", caller=ANNA, now=IN_HOURS, owner=PROCESS)
    with Seen() as seen, session_scope(factory) as s:
        early = sweep_lost_calls(s, IN_HOURS + LOST - timedelta(seconds=1))
    assert early.closed == [] and seen.lost == []  # still within its heartbeat's grace
    with Seen() as seen, session_scope(factory) as s:
        swept = sweep_lost_calls(s, IN_HOURS + LOST + timedelta(seconds=1))
    assert sorted(swept.closed) == sorted([queued, call_row(session, "1795303247.2").id])
    for uid in ("1795303247.1", "1795303247.2"):
        row = call_row(session, uid)
        assert row.outcome == "lost" and row.ended_at == IN_HOURS + LOST + timedelta(seconds=1)
    assert [e.call_id for e in seen.lost].count(queued) == 1 and "stopped" in seen.lost[0].reason
    row = call_row(session, "1795303247.1")
    assert row.ticket_id is not None and row.queue_left_at is not None
    timer = session.scalar(select(Timer).where(Timer.key == f"hotline-queue:{queued}"))
    assert timer.cancelled_at is not None


def test_the_sweep_forgets_processes_gone_for_a_day(factory, session, demo):  # noqa: ANN001
    from callcenter.models import ServiceProcess

    with session_scope(factory) as s:
        beat(s, PROCESS, IN_HOURS)
        beat(s, "agi:other:1:aaaaaa", IN_HOURS + timedelta(hours=23))
    with session_scope(factory) as s:
        sweep_lost_calls(s, IN_HOURS + timedelta(days=1, seconds=1))
    session.expire_all()
    assert [p.id for p in session.scalars(select(ServiceProcess))] == ["agi:other:1:aaaaaa"]


def test_a_beating_process_keeps_its_calls(factory, flow, session, demo):  # noqa: ANN001
    queued_agi_call(factory, flow, "1795303247.3")
    for minute in range(1, 4):
        with session_scope(factory) as s:
            beat(s, PROCESS, IN_HOURS + timedelta(minutes=minute))
            assert sweep_lost_calls(s, IN_HOURS + timedelta(minutes=minute, seconds=5)).closed == []
    assert call_row(session, "1795303247.3").ended_at is None


def test_no_unanswered_alert_for_a_caller_whose_process_died(factory, flow, session, demo):  # noqa: ANN001
    """kill -9 during the queue: after the restart the threshold passes; nobody is paged about the caller."""
    call_id = queued_agi_call(factory, flow, "1795303247.4")
    with Captured() as seen, Seen() as gone:
        fire_queue_timer(factory, IN_HOURS + timedelta(minutes=11))
    assert seen.unanswered == [] and [e.call_id for e in gone.lost] == [call_id]
    assert session.scalar(select(Alert)) is None
    assert call_row(session, "1795303247.4").outcome == "lost"


def test_the_queue_timer_looks_again_until_the_process_beats_after_the_threshold(factory, flow, session,
                                                                                  demo):  # noqa: ANN001
    call_id = queued_agi_call(factory, flow, "1795303247.5")
    due = IN_HOURS + timedelta(minutes=10)
    with session_scope(factory) as s:
        beat(s, PROCESS, due - timedelta(seconds=2))  # alive, but its last beat is from before the threshold
    with Captured() as seen:
        fire_queue_timer(factory, due + timedelta(seconds=1))
        assert seen.unanswered == []
        timer = session.scalar(select(Timer).where(Timer.key == f"hotline-queue:{call_id}"))
        session.refresh(timer)
        assert timer.fired_at is None and timer.due_at > due  # armed again
        with session_scope(factory) as s:
            beat(s, PROCESS, due + timedelta(seconds=5))
        fire_queue_timer(factory, timer.due_at)
    assert [e.call_id for e in seen.unanswered] == [call_id]


def test_an_alert_already_raised_is_resolved_when_its_caller_turns_out_lost(factory, flow, session, demo):  # noqa: ANN001
    call_id = queued_agi_call(factory, flow, "1795303247.6")
    due = IN_HOURS + timedelta(minutes=10)
    with session_scope(factory) as s:
        beat(s, PROCESS, due + timedelta(seconds=1))
    fire_queue_timer(factory, due + timedelta(seconds=2))
    alert = session.scalar(select(Alert))
    assert alert is not None and alert.status == AlertStatus.TRIGGERED
    with session_scope(factory) as s:
        swept = sweep_lost_calls(s, due + timedelta(seconds=1) + LOST + timedelta(seconds=1))
    assert swept.closed == [call_id]
    session.expire_all()
    assert alert.status == AlertStatus.RESOLVED
    assert any("caller gone" in (e.detail or "") for e in alert.events), [e.detail for e in alert.events]


def test_a_process_closes_its_own_calls_whose_session_is_over(factory, flow, session, settings, demo):  # noqa: ANN001
    clock = [IN_HOURS]
    heart = Heartbeat(factory, lost_seconds=30, live=lambda: {"1795303247.7"}, clock=lambda: clock[0])
    for uid in ("1795303247.7", "1795303247.8"):
        with session_scope(factory) as s:
            flow.start(s, channel="asterisk", provider_call_id=uid, caller=ANNA, now=IN_HOURS, owner=heart.id)
    heart.beat_once()
    assert heart.close_orphans() == 0  # too young to tell
    clock[0] = IN_HOURS + timedelta(seconds=20)
    heart.beat_once()
    assert heart.close_orphans() == 1
    assert call_row(session, "1795303247.8").outcome == "lost"
    assert call_row(session, "1795303247.7").ended_at is None


def test_sweeps_in_many_workers_close_each_call_once(factory, flow, session, demo):  # noqa: ANN001
    uids = [f"1795303247.{20 + i}" for i in range(12)]
    for uid in uids:
        queued_agi_call(factory, flow, uid)
    later = IN_HOURS + timedelta(minutes=2)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            barrier.wait()
            for _ in range(3):
                with session_scope(factory) as s:
                    sweep_lost_calls(s, later)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    with Seen() as seen:
        threads = [threading.Thread(target=sweep) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert not errors, errors
    assert Counter(e.call_id for e in seen.lost).most_common(1)[0][1] == 1 and len(seen.lost) == len(uids)
    assert sorted(Counter(seen.ended).values()) == [1] * len(uids)
    assert all(call_row(session, uid).outcome == "lost" for uid in uids)


def test_close_lost_call_by_its_id_is_safe_to_repeat(factory, flow, session, demo):  # noqa: ANN001
    queued_agi_call(factory, flow, "1795303247.9", owner=None)
    with Seen() as seen:
        for _ in range(2):
            with session_scope(factory) as s:
                close_lost_call(s, "1795303247.9", IN_HOURS + timedelta(seconds=40), "AMI Hangup")
        with session_scope(factory) as s:
            assert close_lost_call(s, "no-such-call", IN_HOURS, "AMI Hangup") is False
    assert len(seen.lost) == 1 and seen.lost[0].reason == "AMI Hangup"
    assert call_row(session, "1795303247.9").outcome == "lost"


def test_a_lost_call_keeps_an_outcome_it_already_had_and_later_turns_still_count(factory, flow, session,
                                                                                   demo):  # noqa: ANN001
    with session_scope(factory) as s:
        flow.start(s, channel="asterisk", provider_call_id="1795303247.10", caller=ANNA, now=IN_HOURS)
        flow.advance(s, "1795303247.10", "menu", Input("digits", digits="5"), IN_HOURS)  # permission: refused
        flow.start(s, channel="twilio", provider_call_id="CA-late-message", caller=ANNA, now=IN_HOURS)
        flow.advance(s, "CA-late-message", "menu", Input("digits", digits="2"), IN_HOURS)
    with session_scope(factory) as s:
        close_lost_call(s, "1795303247.10", IN_HOURS + LOST, "AMI Hangup")
        close_lost_call(s, "CA-late-message", IN_HOURS + LOST, "Twilio says the call is completed")
    assert call_row(session, "1795303247.10").outcome == "permission_refused"
    with session_scope(factory) as s:  # the <Record> action arrives after all
        flow.advance(s, "CA-late-message", "msg_leave_message", Input(
            "recording", recording_id="RE1", recording_url="https://api.twilio.example/RE1", duration=8),
            IN_HOURS + LOST + timedelta(seconds=1))
        calls.status_callback(s, provider_call_id="CA-late-message", status="in-progress", now=IN_HOURS + LOST,
                              sequence=9)
    row = call_row(session, "CA-late-message")
    assert row.outcome == "message" and row.ticket_id is not None and row.ended_at is not None


# ----------------------------------------------------------------------------- Twilio: ask the REST API


@pytest.fixture
def twilio(settings, fake):  # noqa: ANN001, ANN201
    from callcenter.providers.twilio import TwilioProvider

    settings.twilio_account_sid, settings.twilio_auth_token = fake.account_sid, fake.auth_token
    settings.twilio_from_number = HOTLINE_NUMBER
    provider = TwilioProvider(settings, fake.client())
    return {"sms": provider, "voice": provider, "callstatus": provider}


def test_quiet_twilio_calls_are_looked_up_and_closed_when_twilio_says_they_ended(factory, flow, session, fake,
                                                                                 twilio, demo):  # noqa: ANN001
    gone = fake.add_inbound_call(ANNA, HOTLINE_NUMBER)
    still = fake.add_inbound_call(ANNA, HOTLINE_NUMBER)
    for sid in (gone.sid, still.sid):
        twilio_call_at_menu(factory, flow, sid)
    gone.status = "completed"  # hung up while our web process was down: no status callback reached us
    later = IN_HOURS + LOST + timedelta(seconds=1)
    with session_scope(factory) as s:
        assert sweep_lost_calls(s, IN_HOURS + timedelta(seconds=10)).asked == []  # heard of a moment ago
    with session_scope(factory) as s:
        asked = sweep_lost_calls(s, later).asked
    assert len(asked) == 2
    with session_scope(factory) as s:
        assert sweep_lost_calls(s, later + timedelta(seconds=5)).asked == []  # asked already
    assert drain(factory, twilio, lambda: later + timedelta(seconds=2)) == 2
    assert [r.path for r in fake.requests if "/Calls/" in r.path] != []
    row = call_row(session, gone.sid)
    assert (row.outcome, row.ended_at, row.provider_status) == ("lost", later + timedelta(seconds=2), "completed")
    row = call_row(session, still.sid)
    assert row.ended_at is None and row.last_seen_at == later + timedelta(seconds=2)


def test_a_call_twilio_does_not_know_is_closed(factory, flow, session, fake, twilio, demo):  # noqa: ANN001
    twilio_call_at_menu(factory, flow, "CA" + "9" * 32)
    later = IN_HOURS + LOST + timedelta(seconds=1)
    with session_scope(factory) as s:
        sweep_lost_calls(s, later)
    drain(factory, twilio, lambda: later)
    assert call_row(session, "CA" + "9" * 32).outcome == "lost"
    assert session.scalar(select(OutboxMessage.error_code)) == "20404"


def test_no_alert_for_a_quiet_twilio_caller_until_twilio_vouches_for_them(factory, flow, session, fake, twilio,
                                                                          demo):  # noqa: ANN001
    inbound = fake.add_inbound_call(ANNA, HOTLINE_NUMBER)
    sid = inbound.sid
    with session_scope(factory) as s:
        flow.start(s, channel="twilio", provider_call_id=sid, caller=ANNA, now=IN_HOURS)
        flow.advance(s, sid, "menu", Input("digits", digits="1"), IN_HOURS)
    inbound.status = "completed"
    with Captured() as seen:
        fire_queue_timer(factory, IN_HOURS + timedelta(minutes=11))  # no poll for ten minutes
        assert seen.unanswered == []
        drain(factory, twilio, lambda: IN_HOURS + timedelta(minutes=11))
    assert seen.unanswered == [] and call_row(session, sid).outcome == "lost"


def test_the_periodic_job_trusts_heartbeats_only_after_it_could_sweep_for_a_while(factory, settings, flow, session,
                                                                                   demo, monkeypatch):  # noqa: ANN001
    queued_agi_call(factory, flow, "1795303247.11")
    settings.call_lost_seconds = 30
    clock = [1000.0]
    monkeypatch.setattr(call_presence.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(call_presence, "_sweeper", call_presence._SweepClock())
    much_later = IN_HOURS + timedelta(minutes=5)
    call_presence.lost_calls_job(factory, settings, much_later)  # first run: heartbeats may be late
    assert call_row(session, "1795303247.11").ended_at is None
    clock[0] += 5
    call_presence.lost_calls_job(factory, settings, much_later + timedelta(seconds=5))
    assert call_row(session, "1795303247.11").ended_at is None
    clock[0] += 6
    call_presence.lost_calls_job(factory, settings, much_later + timedelta(seconds=11))
    assert call_row(session, "1795303247.11").outcome == "lost"
    clock[0] += 60  # a gap (the database was unreachable): careful again
    queued_agi_call(factory, flow, "1795303247.12", at=much_later)
    call_presence.lost_calls_job(factory, settings, much_later + timedelta(minutes=5))
    assert call_row(session, "1795303247.12").ended_at is None
