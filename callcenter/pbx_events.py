"""What the PBX reports about a hotline call, as it happens (Asterisk's AMI events), applied to its row.

The hotline's AGI session writes a call's turns; these complete what it cannot see: in plain `Queue()`
mode which agent answered and when, and how long they talked; and a call whose channel is gone while
its row is still open (the AGI session lost it) is closed as `lost`. Every function here is safe to
repeat and to run in several workers at once: each listener of the PBX's events calls it.
Nothing here knows AMI: `callcenter.providers.asterisk_events` translates the events.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import agents, calls, timers
from .call_presence import close_lost_call
from .models import Agent, Call, CallChannel, StaffUser

log = logging.getLogger(__name__)

CHANNEL_GONE_TIMER = "pbx.channel_gone"


def _open_call(session: Session, provider_call_id: str) -> Call | None:
    """The open Asterisk call of this channel id, locked (one cheap indexed look first: most channels,
    an agent's leg or a Local channel's other half, are no hotline call at all)."""
    found = session.scalar(select(Call.id).where(Call.provider_call_id == provider_call_id,
                                                 Call.channel == CallChannel.ASTERISK, Call.ended_at.is_(None)))
    return calls.lock_call(session, call_id=found) if found is not None else None


def queue_member_connected(session: Session, provider_call_id: str, staff: StaffUser | None,
                           now: datetime) -> Call | None:
    """Asterisk's Queue() bridged the caller to a member (AgentConnect): answered now, by `staff` when
    the member is one of ours. The agent is on a call (their queue membership is paused by the sync)."""
    call = _open_call(session, provider_call_id)
    if call is None:
        return None
    if call.answered_at is None:
        calls.mark_answered(session, call, now)
    if staff is not None and call.agent_id is None:
        call.agent_id = staff.id
        agent = agents.agent_for(session, staff.id, now)
        if agent.current_call_id is None:
            agents.begin_call(session, agent, call, now)
    return call


def queue_member_completed(session: Session, provider_call_id: str, talk_seconds: int, now: datetime,
                           wrap_up_seconds: int) -> Call | None:
    """The queue member's call is over (AgentComplete): Asterisk's own talk time, the agent to wrap-up."""
    call = session.scalar(select(Call).where(Call.provider_call_id == provider_call_id,
                                             Call.channel == CallChannel.ASTERISK))
    if call is None or call.answered_at is None:
        return None
    if call.talk_seconds is None:
        call.talk_seconds = max(0, talk_seconds)
    if call.agent_id is not None:
        agent = session.scalar(select(Agent).where(Agent.staff_id == call.agent_id))
        if agent is not None:
            agents.end_agent_call(session, agent, call, now, wrap_up_seconds)
    return call


def channel_bridged(session: Session, provider_call_id: str, now: datetime) -> Call | None:
    """The caller's channel entered a bridge while still queued (BridgeEnter): someone answered."""
    call = _open_call(session, provider_call_id)
    if call is None or not call.waiting_in_queue or call.answered_at is not None:
        return None
    calls.mark_answered(session, call, now)
    return call


def channel_hung_up(session: Session, provider_call_id: str, now: datetime, grace_seconds: float) -> bool:
    """The call's channel is gone (Hangup). Its AGI session normally writes the end within moments; if
    the row is still open `grace_seconds` later, it is closed as lost (a timer, so a restart keeps it)."""
    call_id = session.scalar(select(Call.id).where(Call.provider_call_id == provider_call_id,
                                                   Call.channel == CallChannel.ASTERISK, Call.ended_at.is_(None)))
    if call_id is None:
        return False
    timers.schedule(session, key=f"pbx-gone:{call_id}", kind=CHANNEL_GONE_TIMER,
                    due_at=now + timedelta(seconds=grace_seconds), now=now, payload={"call_id": call_id})
    return True


def _channel_gone(session: Session, timer: object, now: datetime) -> None:
    call = session.get(Call, (timer.payload or {}).get("call_id"))  # type: ignore[attr-defined]
    if call is None or call.ended_at is not None:
        return
    if call.callback_of_id is not None:
        # A callback whose AGI session never ended it: over, and back on the list unless it connected.
        from .callbacks import callback_finished

        callback_finished(session, call, now, connected=call.answered_at is not None)
        return
    close_lost_call(session, call, now, "Asterisk reported the channel's hangup; the AGI session never ended it")


timers.register(CHANNEL_GONE_TIMER, _channel_gone)


def close_calls_without_channel(session: Session, live: set[str], now: datetime, older_than: timedelta) -> int:
    """Open Asterisk calls whose channel Asterisk does not have (`live`: its channels' unique ids, read
    before this query) are closed as lost: hang-ups missed while no event listener was connected.
    Callbacks are left alone: their channel does not exist until the outbox originates it."""
    rows = session.scalars(select(Call.id).where(Call.channel == CallChannel.ASTERISK, Call.ended_at.is_(None),
                                                 Call.callback_of_id.is_(None),
                                                 Call.arrived_at < now - older_than,
                                                 Call.provider_call_id.not_in(live) if live else True))
    closed = 0
    for call_id in list(rows):
        call = calls.lock_call(session, call_id=call_id, skip_locked=True)
        if call is not None and call.ended_at is None and call.provider_call_id not in live:
            closed += close_lost_call(session, call, now, "Asterisk has no channel for it")
    return closed
