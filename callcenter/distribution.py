"""Distribution: which queued caller goes to which available agent, and what happens to each offer.

Channel-neutral decisions: complaints and critical faults first, then the longest wait; the
longest-idle agent first; agents who let their last offer ring out are skipped for a while;
contracts naming a team get that team's agents. An offer claims the agent and the call with
conditional UPDATEs, so any number of workers and webhooks can dispatch at once without ringing
one agent twice or offering one caller to two agents.

The Twilio side is an outbound call through the outbox (the worker places it): its TwiML
(`webhooks/twilio_agent.py`) whispers who is waiting and lets the agent press 1, which dials
the caller's own queue. Asterisk callers are pulled instead: the FastAGI session holding the
caller asks `claim_for_caller` for its agent, dials them itself and reports back through
`dial_finished`; the agent's confirmation (a second FastAGI session on the agent's channel)
ends in `offer_accepted` / `offer_failed` like the Twilio digit does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from . import agents, calls, events, outbox, scheduler, timers
from .config import Settings
from .models import (
    OPEN_OFFER_STATUSES,
    Agent,
    AgentState,
    Call,
    CallChannel,
    CallOffer,
    Category,
    Company,
    Contract,
    OfferStatus,
    OutboxMessage,
    OutboxState,
    Priority,
    StaffUser,
    Ticket,
)

log = logging.getLogger(__name__)

OFFER_TIMER = "agents.offer_timeout"
OFFER_SOURCE = "agent_offer"
# Channels whose calls can be offered to agents here.
OFFER_CHANNELS = (CallChannel.TWILIO, CallChannel.ASTERISK)
# Channels whose agents' phones the worker rings (push); Asterisk sessions dial agents themselves (pull).
PUSH_CHANNELS = (CallChannel.TWILIO,)
# Dial() statuses: anything but ANSWER means the agent did not take the call.
DIAL_ANSWERED = "ANSWER"
# Twilio reports no-answer itself after the ring timeout; the timer is only the safety net.
TIMER_GRACE = timedelta(seconds=15)

def settings_of(session: Session) -> Settings:
    """The process settings the session factory carries (app and worker configure them)."""
    settings = session.info.get("settings")
    if settings is None:
        from .config import load_settings

        settings = session.info["settings"] = load_settings()
    return settings


def queue_name(queue: str, call_id: int | None) -> str:
    """Each Twilio caller waits in a queue of their own, so an agent dequeues exactly the caller offered."""
    return f"{queue}-{call_id}" if call_id is not None else queue


# ---------------------------------------------------------------------------- choosing


def caller_rank(call: Call, ticket: Ticket | None) -> tuple:
    """Complaints and critical faults first (DESIGN 15), then by how long the caller has waited."""
    urgent = ticket is not None and (ticket.category == Category.COMPLAINT or ticket.priority == Priority.CRITICAL)
    return (0 if urgent else 1, call.queue_entered_at, call.id)


def waiting_calls(session: Session) -> list[Call]:
    """Queued callers nobody is ringing for, best first."""
    rows = session.execute(
        select(Call, Ticket).outerjoin(Ticket, Ticket.id == Call.ticket_id)
        .where(Call.queue_entered_at.is_not(None), Call.queue_left_at.is_(None), Call.ended_at.is_(None),
               Call.answered_at.is_(None), Call.offered_agent_id.is_(None),
               # Once the threshold alert fired the caller is led to leave a message instead.
               Call.unanswered_alerted_at.is_(None),
               Call.channel.in_([c.value for c in OFFER_CHANNELS]))
    ).all()
    return [call for call, _ in sorted(rows, key=lambda r: caller_rank(r[0], r[1]))]


def free_agents(session: Session, now: datetime, skip_seconds: int) -> list[tuple[Agent, StaffUser]]:
    """Available agents with a phone and no offer ringing, longest idle first."""
    cutoff = now - timedelta(seconds=skip_seconds)
    rows = session.execute(
        select(Agent, StaffUser).join(StaffUser, StaffUser.id == Agent.staff_id)
        .where(Agent.state == AgentState.AVAILABLE, Agent.offer_id.is_(None), StaffUser.active.is_(True),
               StaffUser.phone.is_not(None),
               or_(Agent.last_missed_offer_at.is_(None), Agent.last_missed_offer_at < cutoff))
        .order_by(Agent.idle_since, Agent.id)
    ).all()
    return [(a, s) for a, s in rows]


@dataclass
class Pairing:
    call: Call
    agent: Agent
    staff: StaffUser


def plan(session: Session, now: datetime, settings: Settings) -> list[Pairing]:
    """Best caller to the longest-idle eligible agent, repeatedly."""
    free = free_agents(session, now, settings.agent_skip_seconds)
    if not free:
        return []
    teams = {c.id: c.agent_team for c in session.scalars(select(Contract).where(Contract.agent_team.is_not(None)))}
    pairs = []
    for call in waiting_calls(session):
        team = teams.get(call.contract_id)
        for i, (agent, staff) in enumerate(free):
            if team is None or agent.team == team:
                pairs.append(Pairing(call, agent, staff))
                del free[i]
                break
        if not free:
            break
    return pairs


# ---------------------------------------------------------------------------- offering


def _claim(session: Session, call: Call, agent: Agent) -> bool:
    got_agent = session.execute(
        update(Agent).where(Agent.id == agent.id, Agent.offer_id.is_(None), Agent.state == AgentState.AVAILABLE)
        .values(offer_id=-1).execution_options(synchronize_session=False)).rowcount == 1
    if not got_agent:
        return False
    got_call = session.execute(
        update(Call).where(Call.id == call.id, Call.offered_agent_id.is_(None), Call.answered_at.is_(None))
        .values(offered_agent_id=agent.id).execution_options(synchronize_session=False)).rowcount == 1
    if not got_call:
        session.execute(update(Agent).where(Agent.id == agent.id).values(offer_id=None)
                        .execution_options(synchronize_session=False))
        return False
    return True


def dispatch(session: Session, now: datetime, settings: Settings | None = None) -> list[CallOffer]:
    """Offer every caller that can be paired now; the worker places the agents' calls."""
    settings = settings or settings_of(session)
    offers = []
    for pair in plan(session, now, settings):
        if pair.call.channel not in PUSH_CHANNELS:
            # The caller's own FastAGI session claims this agent on its next look (claim_for_caller);
            # the agent stays out of this round so priority order holds across channels.
            continue
        if not _claim(session, pair.call, pair.agent):
            continue
        session.refresh(pair.agent)
        session.refresh(pair.call)
        offer = CallOffer(call_id=pair.call.id, agent_id=pair.agent.id, kind="queue", status=OfferStatus.PENDING,
                          offered_at=now)
        session.add(offer)
        session.flush()
        pair.agent.offer_id = offer.id
        _ring_agent(session, offer, pair.staff, settings, now)
        timers.schedule(session, key=f"agent-offer:{offer.id}", kind=OFFER_TIMER,
                        due_at=now + timedelta(seconds=settings.agent_offer_seconds) + TIMER_GRACE,
                        now=now, payload={"offer_id": offer.id})
        offers.append(offer)
        log.info("call %s offered to %s", pair.call.id, pair.staff.username)
    return offers


def public_url(settings: Settings, path: str, **query: object) -> str:
    return settings.public_url.rstrip("/") + path + "?" + "&".join(f"{k}={v}" for k, v in query.items())


def _ring_agent(session: Session, offer: CallOffer, staff: StaffUser, settings: Settings, now: datetime) -> None:
    outbox.enqueue(session, key=f"agent-offer:{offer.id}", channel="voice", destination=staff.phone or "",
                   payload={"url": public_url(settings, "/twilio/agent/offer", offer=offer.id),
                            "status_callback": public_url(settings, "/twilio/agent/status", offer=offer.id),
                            "timeout": settings.agent_offer_seconds, "machine_detection": "Enable"},
                   now=now, source_kind=OFFER_SOURCE, source_id=offer.id, max_attempts=1)


def _offer_sent(session: Session, msg: OutboxMessage, now: datetime) -> None:
    offer = session.get(CallOffer, msg.source_id) if msg.source_id else None
    if offer is None:
        return
    if msg.state in (OutboxState.FAILED, OutboxState.DEAD):
        offer_failed(session, offer, now, OfferStatus.NO_ANSWER)
    elif offer.status == OfferStatus.PENDING:
        offer.status = OfferStatus.RINGING
        offer.provider_call_id = msg.provider_ref


outbox.on_sent(OFFER_SOURCE, _offer_sent)


def _release(session: Session, offer: CallOffer) -> tuple[Agent | None, Call | None]:
    agent = session.get(Agent, offer.agent_id)
    call = session.get(Call, offer.call_id)
    if agent is not None and agent.offer_id == offer.id:
        agent.offer_id = None
    if call is not None and call.offered_agent_id == offer.agent_id:
        call.offered_agent_id = None
    return agent, call


def offer_accepted(session: Session, offer: CallOffer, now: datetime) -> Call | None:
    """The agent pressed 1. The call (if the caller is still queued) is theirs: the no-answer timer stops."""
    if offer.status not in OPEN_OFFER_STATUSES:
        return None
    # The caller's call, locked and read afresh: the caller may be hanging up this very moment.
    call = calls.lock_call(session, call_id=offer.call_id)
    if call is None or not call.waiting_in_queue or call.answered_at is not None:
        offer.status, offer.ended_at = OfferStatus.CANCELLED, now
        agent, _ = _release(session, offer)
        return None
    offer.status, offer.answered_at = OfferStatus.ACCEPTED, now
    timers.cancel(session, f"agent-offer:{offer.id}", now)
    agent, call = _release(session, offer)
    staff = session.get(StaffUser, agent.staff_id)
    call.agent_id = staff.id
    call.ring_seconds = max(0, int((now - offer.offered_at).total_seconds()))
    calls.mark_answered(session, call, now)
    agents.begin_call(session, agent, call, now)
    return call


def offer_failed(session: Session, offer: CallOffer, now: datetime, status: str = OfferStatus.NO_ANSWER) -> None:
    """Declined, not answered, a machine, or timed out: skip this agent for a while, offer the next one."""
    if offer.status not in OPEN_OFFER_STATUSES:
        return
    offer.status, offer.ended_at = status, now
    timers.cancel(session, f"agent-offer:{offer.id}", now)
    agent, _ = _release(session, offer)
    if agent is not None:
        agent.last_missed_offer_at = now
    session.flush()
    dispatch(session, now)


def agent_leg_ended(session: Session, offer: CallOffer, now: datetime, talk_seconds: int | None = None) -> None:
    """The agent's phone call is over: an unanswered offer fails; an accepted one goes to wrap-up."""
    if offer.status in OPEN_OFFER_STATUSES:
        offer_failed(session, offer, now, OfferStatus.NO_ANSWER)
        return
    if offer.status != OfferStatus.ACCEPTED or offer.ended_at is not None:
        return
    offer.ended_at = now
    call = session.get(Call, offer.call_id)
    agent = session.get(Agent, offer.agent_id)
    if call is None or agent is None:
        return
    if call.talk_seconds is None:
        call.talk_seconds = talk_seconds if talk_seconds is not None else int((now - offer.answered_at).total_seconds())
    agents.end_agent_call(session, agent, call, now, settings_of(session).agent_wrap_up_seconds)


def _offer_timeout(session: Session, timer: object, now: datetime) -> None:
    offer = session.get(CallOffer, (timer.payload or {}).get("offer_id"))  # type: ignore[attr-defined]
    if offer is not None:
        offer_failed(session, offer, now, OfferStatus.NO_ANSWER)


timers.register(OFFER_TIMER, _offer_timeout)


def on_call_ended(session: Session, event: events.CallEnded) -> None:
    """A caller who hangs up while an agent's phone rings: the offer is cancelled, the agent freed."""
    call = session.get(Call, event.call_id)
    if call is not None and call.queue_entered_at is None:
        return  # offers go to queued callers only: nothing to look for (most calls never queue)
    for offer in session.scalars(select(CallOffer).where(CallOffer.call_id == event.call_id,
                                                         CallOffer.status.in_(OPEN_OFFER_STATUSES))):
        offer.status, offer.ended_at = OfferStatus.CANCELLED, event.now
        timers.cancel(session, f"agent-offer:{offer.id}", event.now)
        _release(session, offer)


def on_queued(session: Session, event: events.CallQueued) -> None:
    dispatch(session, event.now)


def on_available(session: Session, event: agents.AgentAvailable) -> None:
    dispatch(session, event.now)


@scheduler.periodic("agents.dispatch", 5)
def dispatch_job(factory, settings: Settings, now: datetime) -> None:  # noqa: ANN001
    """Catches what the events missed: skips that expired, agents freed by a timer in another process."""
    from .db import session_scope

    with session_scope(factory) as session:
        dispatch(session, now, settings)


# ---------------------------------------------------------------------------- Asterisk (pull)

# The agent may answer late in the ring and then listen to the whisper before pressing 1.
ASTERISK_OFFER_GRACE = timedelta(seconds=60)


@dataclass
class QueueLook:
    """What the FastAGI session holding an Asterisk caller does next.

    action: "dial" (an agent was claimed: `offer`, `target`), "hold" (nobody free for this caller),
    "timeout" (the contract's no-answer threshold passed or the alert already fired),
    "answered" or "gone" (nothing left to do).
    """

    action: str
    offer: CallOffer | None = None
    target: str = ""
    remaining: int = 0


def dial_target(template: str, staff: StaffUser) -> str:
    """The Dial() destination of the agent's phone from CALLCENTER_ASTERISK_AGENT_DIAL."""
    return template.format(phone=staff.phone or "", username=staff.username)


def claim_for_caller(session: Session, call: Call, now: datetime, settings: Settings | None = None) -> QueueLook:
    """Pull mode: the agent the plan gives this caller now, claimed like a pushed offer, or why not."""
    settings = settings or settings_of(session)
    if call.answered_at is not None:
        return QueueLook("answered")
    if not call.waiting_in_queue:
        return QueueLook("gone")
    deadline = calls.queue_deadline(calls.context(session, call))
    if call.unanswered_alerted_at is not None or (deadline is not None and now >= deadline):
        return QueueLook("timeout")
    remaining = int((deadline - now).total_seconds()) if deadline is not None else 0
    if call.offered_agent_id is not None:
        return QueueLook("hold", remaining=remaining)
    for pair in plan(session, now, settings):
        if pair.call.id != call.id:
            continue
        if not _claim(session, call, pair.agent):
            break
        session.refresh(pair.agent)
        session.refresh(call)
        offer = CallOffer(call_id=call.id, agent_id=pair.agent.id, kind="queue", status=OfferStatus.RINGING,
                          offered_at=now)
        session.add(offer)
        session.flush()
        pair.agent.offer_id = offer.id
        # Safety net if the FastAGI session dies mid-offer: the agent must not stay claimed.
        timers.schedule(session, key=f"agent-offer:{offer.id}", kind=OFFER_TIMER,
                        due_at=now + timedelta(seconds=settings.agent_offer_seconds) + ASTERISK_OFFER_GRACE,
                        now=now, payload={"offer_id": offer.id})
        log.info("asterisk call %s offered to %s", call.id, pair.staff.username)
        return QueueLook("dial", offer, dial_target(settings.asterisk_agent_dial, pair.staff), remaining)
    return QueueLook("hold", remaining=remaining)


def dial_finished(session: Session, offer: CallOffer, dial_status: str, answered_seconds: int | None,
                  now: datetime) -> bool:
    """The caller's Dial() to the agent returned; True when the caller talked to the agent.

    An offer the agent confirmed talked from their 1 (`offer.answered_at`) to now; an agent who answered
    where no confirmation runs took the call by answering, `answered_seconds` before now (the caller's
    session bounds Asterisk's ANSWEREDTIME by the Dial's own duration: Asterisk 22 counts it from the
    caller's answer); anything else skips the agent.
    """
    status = (dial_status or "").upper()
    if offer.status in OPEN_OFFER_STATUSES and status == DIAL_ANSWERED:
        answered_at = now - timedelta(seconds=answered_seconds or 0)
        offer_accepted(session, offer, answered_at)
    if offer.status == OfferStatus.ACCEPTED:
        agent_leg_ended(session, offer, now)
        return True
    offer_failed(session, offer, now, OfferStatus.NO_ANSWER)
    return False


def confirmation(session: Session, offer_id: int, now: datetime) -> tuple[CallOffer, Call, str, str, int] | None:
    """For the agent's confirmation on Asterisk: (offer, call, language, reason, minutes waited).

    None when there is nothing to confirm any more (the caller left or the offer timed out).
    """
    offer = session.get(CallOffer, offer_id)
    if offer is None or offer.status not in OPEN_OFFER_STATUSES:
        return None
    call = session.get(Call, offer.call_id)
    if call is None or not call.waiting_in_queue or call.answered_at is not None:
        return None
    agent = session.get(Agent, offer.agent_id)
    staff = session.get(StaffUser, agent.staff_id) if agent else None
    waited = int((now - call.queue_entered_at).total_seconds()) if call.queue_entered_at else 0
    return offer, call, (staff.language if staff else None) or "en", _reason(session, call), waited // 60


# ---------------------------------------------------------------------------- whisper


WHISPER = {
    "hu": "Hívás a(z) {company} cégtől: {reason}. Várakozott {minutes} percet. A fogadáshoz nyomja meg az 1-est.",
    "el": "Κλήση από {company}: {reason}. Αναμονή {minutes} λεπτά. Πατήστε 1 για να απαντήσετε.",
    "en": "Call from {company}: {reason}. Waited {minutes} minutes. Press 1 to take the call.",
}
REASONS = {
    "critical_fault": {"hu": "kritikus hiba", "el": "κρίσιμη βλάβη", "en": "critical fault"},
    "complaint": {"hu": "panasz", "el": "παράπονο", "en": "complaint"},
    "other": {"hu": "hibabejelentés", "el": "αναφορά βλάβης", "en": "fault report"},
}
CALLER_GONE = {"hu": "A hívó már letette.", "el": "Ο καλών έκλεισε.", "en": "The caller has already hung up."}

def _reason(session: Session, call: Call) -> str:
    ticket = session.get(Ticket, call.ticket_id) if call.ticket_id else None
    if ticket is not None and ticket.category == Category.COMPLAINT:
        return "complaint"
    if ticket is not None and ticket.priority == Priority.CRITICAL:
        return "critical_fault"
    return "other"


def whisper(session: Session, call: Call, lang: str, now: datetime) -> str:
    """What the agent hears before taking the call: company, reason, wait, in the agent's language."""
    lang = lang if lang in WHISPER else "en"
    company = session.get(Company, call.company_id) if call.company_id else None
    reason = _reason(session, call)
    waited = int((now - call.queue_entered_at).total_seconds()) if call.queue_entered_at else 0
    return WHISPER[lang].format(company=company.name if company else (call.caller_number or "?"),
                                reason=REASONS[reason][lang], minutes=waited // 60)
