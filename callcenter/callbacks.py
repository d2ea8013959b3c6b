"""*Call back* from the console: the agent's phone rings first, then the customer is dialled, and the
call is recorded like any other. Through the channel the missed call came in on: Twilio (an outbound
call whose TwiML dials the customer, `webhooks/twilio_agent.py`) or Asterisk (AMI Originate of the
agent's phone into `[hotline-callback]`, whose FastAGI script records with MixMonitor and dials the
customer, `webhooks/agi_callback.py`). Either way the call is placed by the worker from the outbox:
the console's request writes rows only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import outbox, recordings
from .config import Settings
from .distribution import dial_target, public_url, settings_of
from .models import Call, CallChannel, OutboxMessage, OutboxState, StaffUser

CALLBACK_SOURCE = "agent_callback"
ORIGINATE_CHANNEL = "originate"  # the outbox channel AMI Originate sends (callcenter.providers)
CALLBACK_CONTEXT = "hotline-callback"     # deploy/asterisk/extensions.conf

CALLBACK_WHISPER = {
    "hu": "Visszahívás: {name}, {company}. Kapcsoljuk.",
    "el": "Επανάκληση: {name}, {company}. Σύνδεση.",
    "en": "Calling back {name}, {company}. Connecting.",
}


class CallbackError(ValueError):
    pass


def start_callback(session: Session, missed: Call, staff: StaffUser, now: datetime,
                   settings: Settings | None = None) -> Call:
    """"Call back": the agent's phone rings first, then the customer is dialled and the call recorded."""
    settings = settings or settings_of(session)
    if missed.callback_state not in ("pending", None):
        raise CallbackError("this call is already being called back or was dealt with")
    if not staff.phone:
        raise CallbackError("you have no registered phone number to be called on")
    if not missed.caller_number:
        raise CallbackError("the caller's number is unknown")
    on_asterisk = missed.channel == CallChannel.ASTERISK
    if on_asterisk and not settings.ami_url:
        raise CallbackError("calling back through Asterisk needs its manager interface (CALLCENTER_AMI_URL)")
    attempt = (session.scalar(select(Call.id).where(Call.callback_of_id == missed.id).order_by(Call.id.desc()))
               or 0) + 1
    back = Call(channel=CallChannel.ASTERISK if on_asterisk else CallChannel.TWILIO,
                # On Asterisk this is the agent's channel's unique id too (Originate's ChannelId).
                provider_call_id=(f"hotline-callback-{missed.id}-{attempt}" if on_asterisk
                                  else f"callback:{missed.id}:{attempt}"),
                caller_number=missed.caller_number, contact_id=missed.contact_id, company_id=missed.company_id,
                contract_id=missed.contract_id, asset_id=missed.asset_id, language=missed.language,
                arrived_at=now, menu_path="", status_sequence=-1, menu_attempts=0, agent_id=staff.id,
                callback_of_id=missed.id, ticket_id=missed.ticket_id, step="callback")
    session.add(back)
    session.flush()
    missed.callback_state = "dialling"
    if on_asterisk:
        template = settings.asterisk_agent_dial or settings.asterisk_queue_member
        outbox.enqueue(session, key=f"agent-callback:{back.id}", channel=ORIGINATE_CHANNEL,
                       destination=dial_target(template, staff),
                       payload={"context": CALLBACK_CONTEXT, "channel_id": back.provider_call_id,
                                "variables": {"HOTLINE_CALLBACK": str(back.id)},
                                "callerid": missed.caller_number, "timeout": settings.agent_offer_seconds},
                       now=now, source_kind=CALLBACK_SOURCE, source_id=back.id, max_attempts=3)
        return back
    outbox.enqueue(session, key=f"agent-callback:{back.id}", channel="voice", destination=staff.phone,
                   payload={"url": public_url(settings, "/twilio/agent/callback", call=back.id),
                            "status_callback": public_url(settings, "/twilio/agent/callback-status", call=back.id),
                            "timeout": settings.agent_offer_seconds},
                   now=now, source_kind=CALLBACK_SOURCE, source_id=back.id, max_attempts=3)
    return back


def _callback_sent(session: Session, msg: OutboxMessage, now: datetime) -> None:
    back = session.get(Call, msg.source_id) if msg.source_id else None
    if back is None:
        return
    if msg.state in (OutboxState.FAILED, OutboxState.DEAD):
        callback_finished(session, back, now, connected=False)
    elif msg.provider_ref and back.provider_call_id.startswith("callback:"):
        # Recording callbacks name the agent's leg: the callback row takes its CallSid.
        back.provider_call_id = msg.provider_ref


outbox.on_sent(CALLBACK_SOURCE, _callback_sent)


def callback_connected(session: Session, back: Call, now: datetime) -> None:
    if back.answered_at is None:
        back.answered_at = now


def callback_finished(session: Session, back: Call, now: datetime, *, connected: bool,
                      talk_seconds: int | None = None) -> None:
    """The callback is over: done when the customer was reached, else back on the list."""
    missed = session.get(Call, back.callback_of_id) if back.callback_of_id else None
    if back.ended_at is None:
        back.ended_at = now
    if connected:
        back.outcome = "callback"
        back.talk_seconds = talk_seconds
        if missed is not None:
            missed.callback_state = "done"
    else:
        back.outcome = "callback_failed"
        if missed is not None and missed.callback_state == "dialling":
            missed.callback_state = "pending"


# ---------------------------------------------------------------------------- on Asterisk (the AGI's turns)


@dataclass(frozen=True)
class CallbackLeg:
    """What the agent's channel needs: whom to dial, and the customer's company for the whisper."""

    number: str
    company_id: int | None
    agent_language: str


def agent_answered(session: Session, back_id: int, now: datetime) -> CallbackLeg | None:
    """The agent's phone answered the Originate; None when this callback is over already."""
    back = session.get(Call, back_id)
    if back is None or back.callback_of_id is None or back.ended_at is not None or not back.caller_number:
        return None
    back.last_seen_at = now
    staff = session.get(StaffUser, back.agent_id) if back.agent_id else None
    return CallbackLeg(back.caller_number, back.company_id, (staff.language if staff else None) or "en")


def recording_started(session: Session, back_id: int, local_path: str, now: datetime) -> None:
    back = session.get(Call, back_id)
    if back is not None:
        recordings.whole_call_recording_started(session, back, local_path=local_path, now=now,
                                                provider_recording_id=f"asterisk:{back.provider_call_id}")


def customer_answered(session: Session, back_id: int, now: datetime) -> None:
    back = session.get(Call, back_id)
    if back is not None and back.callback_of_id is not None:
        callback_connected(session, back, now)


def dial_done(session: Session, back_id: int, now: datetime, store: Path) -> None:
    """The agent's Dial() to the customer returned (or the agent hung up): talk time from the customer's
    answer; connected only if the customer answered."""
    back = session.get(Call, back_id)
    if back is None or back.callback_of_id is None or back.ended_at is not None:
        return
    talk = max(0, int((now - back.answered_at).total_seconds())) if back.answered_at else None
    callback_finished(session, back, now, connected=back.answered_at is not None, talk_seconds=talk)
    recordings.asterisk_recordings_closed(session, back, now, store)


def agent_unreachable(session: Session, back_id: int, now: datetime) -> None:
    """The Originate to the agent's phone failed (not answered, busy, unknown): back on the list."""
    back = session.get(Call, back_id)
    if back is not None and back.callback_of_id is not None and back.ended_at is None:
        callback_finished(session, back, now, connected=False)
