"""Agents' availability on the hotline: states with their history, wrap-up, phone login, missed calls.

States: available, on a call, wrap-up (timed), away, offline. Every change is kept in
`agent_state_changes` with its time and reason. Which caller an available agent gets is
`callcenter.distribution`'s business; it hears of newly available agents through `AgentAvailable`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import calls, events, timers
from .customers import try_normalize_phone
from .models import (
    Agent,
    AgentState,
    AgentStateChange,
    Call,
    CallOutcome,
    Contract,
    Role,
    StaffUser,
    Ticket,
)
from .tickets import Actor, TicketError, log_time

log = logging.getLogger(__name__)

WRAP_UP_TIMER = "agents.wrap_up_end"
# Staff who take hotline calls (QA reviewers do not).
CALL_TAKING_ROLES = {Role.AGENT, Role.ENGINEER, Role.MANAGER, Role.ADMIN}
WRAP_UP_OUTCOMES = ["solved_on_phone", "ticket_updated", "ticket_opened", "escalated", "callback_needed",
                    "wrong_number", "other"]
# Call outcomes that leave a caller on the callback list when nobody spoke to them.
MISSED_OUTCOMES = {CallOutcome.ABANDONED_IN_QUEUE, CallOutcome.UNANSWERED, CallOutcome.UNANSWERED_MESSAGE,
                   CallOutcome.HANGUP_IN_MENU, CallOutcome.NO_INPUT, CallOutcome.CRITICAL_QUEUED, CallOutcome.LOST}


class AgentError(ValueError):
    pass


@dataclass(frozen=True)
class AgentAvailable:
    """An agent became free to take a call (distribution offers them the next caller)."""

    agent_id: int
    now: datetime


def agent_for(session: Session, staff_id: int, now: datetime) -> Agent:
    """The staff user's agent row, created (offline) on first use."""
    agent = session.scalar(select(Agent).where(Agent.staff_id == staff_id))
    if agent is None:
        agent = Agent(staff_id=staff_id, state=AgentState.OFFLINE, state_since=now)
        session.add(agent)
        session.flush()
    return agent


def staff_by_phone(session: Session, number: str | None) -> StaffUser | None:
    """An active call-taking staff user whose registered phone this is."""
    e164 = try_normalize_phone(number)
    if e164 is None:
        return None
    return session.scalar(select(StaffUser).where(StaffUser.phone == e164, StaffUser.active.is_(True),
                                                  StaffUser.role.in_([r.value for r in CALL_TAKING_ROLES]))
                          .order_by(StaffUser.id).limit(1))


def set_state(session: Session, agent: Agent, state: str, now: datetime, reason: str = "console") -> Agent:
    """Move an agent to `state`, keeping the change; becoming available triggers distribution."""
    if state not in {s.value for s in AgentState}:
        raise AgentError(f"unknown agent state {state!r}")
    if state == agent.state:
        return agent
    if agent.state == AgentState.ON_CALL and reason not in ("call", "phone"):
        raise AgentError("the agent is on a call; the state changes when the call ends")
    session.add(AgentStateChange(agent_id=agent.id, previous=agent.state, state=state, at=now, reason=reason))
    agent.state, agent.state_since = state, now
    if state != AgentState.WRAP_UP:
        agent.wrap_up_until = None
        timers.cancel_prefix(session, f"agent-wrap:{agent.id}:", now)
    if state == AgentState.AVAILABLE:
        agent.idle_since = now
        agent.current_call_id = None
        session.flush()
        events.publish(session, AgentAvailable(agent.id, now))
    return agent


def phone_action(session: Session, staff: StaffUser, action: str, now: datetime) -> Agent:
    """The agent menu on the hotline: log in (available) or log out (offline) from the registered phone."""
    agent = agent_for(session, staff.id, now)
    if action == "agent_login":
        return set_state(session, agent, AgentState.AVAILABLE, now, "phone")
    if action == "agent_logout":
        return set_state(session, agent, AgentState.OFFLINE, now, "phone")
    raise AgentError(f"unknown agent menu action {action!r}")


def begin_call(session: Session, agent: Agent, call: Call, now: datetime) -> None:
    set_state(session, agent, AgentState.ON_CALL, now, "call")
    agent.current_call_id = call.id


def end_agent_call(session: Session, agent: Agent, call: Call, now: datetime, wrap_up_seconds: int) -> None:
    """The agent's leg ended: after-call work until they finish the wrap-up or it times out."""
    if agent.current_call_id != call.id or agent.state != AgentState.ON_CALL:
        return
    set_state(session, agent, AgentState.WRAP_UP, now, "call")
    agent.current_call_id = call.id
    agent.wrap_up_until = now + timedelta(seconds=wrap_up_seconds)
    timers.schedule(session, key=f"agent-wrap:{agent.id}:{call.id}", kind=WRAP_UP_TIMER,
                    due_at=agent.wrap_up_until, now=now, payload={"agent_id": agent.id, "call_id": call.id})


def _close_wrap_up(session: Session, agent: Agent, call: Call | None, now: datetime, reason: str) -> None:
    if call is not None and call.wrap_up_seconds is None:
        call.wrap_up_seconds = max(0, int((now - agent.state_since).total_seconds()))
    set_state(session, agent, AgentState.AVAILABLE, now, reason)


def _wrap_up_timeout(session: Session, timer: object, now: datetime) -> None:
    payload = timer.payload or {}  # type: ignore[attr-defined]
    agent = session.get(Agent, payload.get("agent_id"))
    if agent is None or agent.state != AgentState.WRAP_UP or agent.current_call_id != payload.get("call_id"):
        return
    _close_wrap_up(session, agent, session.get(Call, payload.get("call_id")), now, "timer")


timers.register(WRAP_UP_TIMER, _wrap_up_timeout)


def wrap_up(session: Session, call: Call, staff: StaffUser, *, now: datetime, outcome: str,
            ticket: Ticket | None = None, minutes: int = 0, quick_phone_answer: bool = False,
            note: str | None = None) -> Call:
    """Link the call to a ticket, log the time (0.25 h units) and its outcome; ends the after-call state."""
    if outcome not in WRAP_UP_OUTCOMES:
        raise AgentError(f"unknown wrap-up outcome {outcome!r}")
    if minutes < 0:
        raise AgentError("minutes cannot be negative")
    if minutes and ticket is None and call.ticket_id is None:
        raise AgentError("time is logged on a ticket: link the call to a ticket first")
    if ticket is not None:
        link_ticket(session, call, ticket)
    if minutes:
        target = ticket or session.get(Ticket, call.ticket_id)
        try:
            log_time(session, target, minutes, actor=Actor.staff(staff), now=now,
                     quick_phone_answer=quick_phone_answer, note=note or f"Hotline call {call.id}")
        except TicketError as exc:
            raise AgentError(str(exc)) from exc
    call.wrap_up_outcome = outcome
    agent = agent_for(session, staff.id, now)
    if agent.state == AgentState.WRAP_UP and agent.current_call_id == call.id:
        _close_wrap_up(session, agent, call, now, "wrap_up")
    elif call.wrap_up_seconds is None and call.ended_at is not None:
        call.wrap_up_seconds = max(0, int((now - call.ended_at).total_seconds()))
    return call


def link_ticket(session: Session, call: Call, ticket: Ticket) -> None:
    if call.company_id is not None and ticket.company_id not in (None, call.company_id):
        raise AgentError("the ticket belongs to another customer")
    call.ticket_id = ticket.id


# ---------------------------------------------------------------------------- missed calls


def on_call_ended(session: Session, event: events.CallEnded) -> None:
    call = session.get(Call, event.call_id)
    if call is None or call.answered_at is not None or call.callback_of_id is not None:
        return
    if call.contact_id is None and call.company_id is None:
        return  # strangers go to Sales, not to the callback list
    if call.outcome not in MISSED_OUTCOMES and not call.queue_entered_at:
        return
    if call.callback_state is None:
        call.callback_state = "pending"
    # a lost caller is not paged about (they are not there)
    if not call.out_of_hours or call.unanswered_alerted_at is not None or call.outcome == CallOutcome.LOST:
        return
    contract = session.get(Contract, call.contract_id) if call.contract_id else None  # read only when it matters
    if contract is not None and contract.is_standby:
        # Out of hours nobody reads the list: a standby customer's missed call pages the on-call engineer.
        calls.raise_unanswered(session, call, event.now)



def callback_list(session: Session, limit: int = 200) -> list[Call]:
    return list(session.scalars(select(Call).where(Call.callback_state.in_(("pending", "dialling")))
                                .order_by(Call.arrived_at).limit(limit)))


def dismiss_callback(session: Session, call: Call) -> None:
    call.callback_state = "dismissed"


# ---------------------------------------------------------------------------- wallboard


@dataclass
class BoardAgent:
    staff_id: int
    name: str
    state: str
    seconds: int


@dataclass
class BoardCaller:
    call_id: int
    caller: str
    company: str | None
    waited: int
    offered_to: str | None


@dataclass
class Board:
    waiting: list[BoardCaller]
    agents: list[BoardAgent]
    answered_today: int
    answered_within_threshold: int
    missed_today: int


def board(session: Session, now: datetime, day_start: datetime) -> Board:
    """What a manager's wallboard shows: callers waiting, agents and their states, today's answer rate."""
    from .models import Company

    staff = {u.id: u for u in session.scalars(select(StaffUser))}
    agents = list(session.scalars(select(Agent)))
    by_agent_id = {a.id: a for a in agents}
    waiting = []
    for call in session.scalars(select(Call).where(Call.queue_entered_at.is_not(None), Call.queue_left_at.is_(None),
                                                   Call.ended_at.is_(None), Call.answered_at.is_(None))
                                .order_by(Call.queue_entered_at)):
        company = session.get(Company, call.company_id) if call.company_id else None
        offered = by_agent_id.get(call.offered_agent_id) if call.offered_agent_id else None
        waiting.append(BoardCaller(call.id, call.caller_number or "?", company.name if company else None,
                                   int((now - call.queue_entered_at).total_seconds()),
                                   staff[offered.staff_id].name if offered else None))
    board_agents = [BoardAgent(a.staff_id, staff[a.staff_id].name, a.state, int((now - a.state_since).total_seconds()))
                    for a in agents if a.staff_id in staff]
    board_agents.sort(key=lambda a: (a.state == AgentState.OFFLINE, a.name))
    today = list(session.scalars(select(Call).where(Call.queue_entered_at >= day_start)))
    thresholds = {c.id: c.no_answer_threshold_seconds for c in session.scalars(select(Contract))}
    answered = [c for c in today if c.answered_at is not None]
    within = [c for c in answered if (c.answered_at - c.queue_entered_at).total_seconds()
              <= thresholds.get(c.contract_id, 600)]
    missed = [c for c in today if c.answered_at is None and c.ended_at is not None]
    return Board(waiting, board_agents, len(answered), len(within), len(missed))
