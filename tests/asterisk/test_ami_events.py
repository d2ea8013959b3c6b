"""AMI events complete the call rows (real Asterisk): who answered in plain Queue() mode, the talk time,
and calls whose channel is gone are closed as lost."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from actors import HangUp, Press, Stay
from hotline_helpers import ANNA, IN_HOURS, call_row
from pbx_fixtures import *  # noqa: F403
from sqlalchemy import select

from callcenter import agents, timers
from callcenter.models import Call, Timer
from callcenter.providers.asterisk_events import AmiListener

MEMBER = "Local/{username}@test-agent/n"


def _until(session, check: Callable[[], object], what: str, timeout: float = 30) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while True:
        session.expire_all()
        if check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not after {timeout} s: {what}")
        time.sleep(0.1)


@pytest.fixture
def listening(pbx) -> Iterator[Callable]:  # noqa: ANN001
    started: list[AmiListener] = []

    def listen(hotline, grace_seconds: float = 30) -> AmiListener:  # noqa: ANN001
        hotline.settings.ami_url = pbx.ami_url
        listener = AmiListener(hotline.agi.factory, hotline.settings, clock=hotline.agi.clock,
                               grace_seconds=grace_seconds).start()
        started.append(listener)
        assert listener.connected.wait(20), "the listener never connected to AMI"
        return listener

    yield listen
    for listener in started:
        listener.stop()


def test_plain_queue_mode_knows_who_answered_and_the_talk_time(make_hotline, listening, demo, session) -> None:  # noqa: ANN001
    agent1 = demo.staff["agent1"]
    hotline = make_hotline(IN_HOURS, asterisk_agent_dial="", asterisk_queue_member=MEMBER)
    listening(hotline)
    member = MEMBER.format(username="agent1")
    hotline.pbx.cli(f"queue add member {member} to hotline")
    try:
        hotline.actors.agent_scripts["agent1"] = [Stay(3), HangUp()]
        placed = hotline.call(ANNA, [Press("1")])
        hotline.wait_done(placed, timeout=180)
    finally:
        hotline.pbx.cli(f"queue remove member {member} from hotline")
    uid = hotline.uniqueid(placed)
    _until(session, lambda: call_row(session, uid).talk_seconds is not None, "AgentComplete applied")
    call = call_row(session, uid)
    assert call.outcome == "answered" and call.agent_id == agent1.id
    assert 2 <= call.talk_seconds <= 9, call.talk_seconds  # Asterisk's count; the agent stayed 3 s
    assert call.answered_at >= call.queue_entered_at
    # The agent was on the call, then in wrap-up (the queue sync pauses them meanwhile).
    agent = agents.agent_for(session, agent1.id, hotline.agi.clock())
    assert agent.state == "wrap_up" and agent.current_call_id == call.id


def test_a_call_whose_channel_is_gone_is_closed_as_lost(make_hotline, listening, demo, session) -> None:  # noqa: ANN001
    hotline = make_hotline(IN_HOURS)

    async def loses_the_end(*args: object, **kwargs: object) -> None:  # the AGI process lost track of it
        return None

    hotline.agi._finish = loses_the_end  # type: ignore[method-assign]
    listening(hotline, grace_seconds=1)
    placed = hotline.call(ANNA, [HangUp(on="STREAM FILE", after=0.5)])
    hotline.wait_done(placed)
    uid = hotline.uniqueid(placed)
    call_id = call_row(session, uid).id
    _until(session, lambda: session.scalar(select(Timer.id).where(Timer.key == f"pbx-gone:{call_id}")) is not None,
           "the Hangup event noted")
    assert call_row(session, uid).ended_at is None
    timers.fire_due(hotline.agi.factory, hotline.agi.clock() + timedelta(seconds=2))
    session.expire_all()
    call = call_row(session, uid)
    assert call.outcome == "lost" and call.ended_at is not None


def test_open_calls_without_a_channel_are_closed_on_connecting(make_hotline, listening, demo, session) -> None:  # noqa: ANN001
    hotline = make_hotline(IN_HOURS)
    at = hotline.agi.clock()
    session.add(Call(channel="asterisk", provider_call_id="1700000000.42", caller_number=ANNA,
                     arrived_at=at - timedelta(minutes=5), menu_path="", status_sequence=-1, menu_attempts=0))
    session.commit()
    listening(hotline)
    _until(session, lambda: call_row(session, "1700000000.42").ended_at is not None, "the ghost closed")
    assert call_row(session, "1700000000.42").outcome == "lost"

