"""Twilio adapter for the agents' legs: the offer whisper and digit, the dequeue, callbacks.

The worker places the agent's call (outbox, channel "voice"); Twilio then fetches this TwiML.
Decisions stay in `callcenter.distribution`; this file only reads the form and writes TwiML. Each view
is one unit of work, run again after a deadlock or serialisation failure (Twilio does not retry).
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request
from twilio.twiml.voice_response import Dial, VoiceResponse

from callcenter import callbacks, distribution
from callcenter.db import session_scope
from callcenter.models import Call, CallOffer, Company, Contact, OfferStatus, StaffUser
from callcenter.unit_of_work import retried
from callcenter.validation import optional_int

from .twilio_signature import twilio_signed
from .twilio_voice import LOCALES, _now, _settings, _twiml, _url, answered_by_machine

bp = Blueprint("twilio_agent", __name__, url_prefix="/twilio/agent")

FINAL_FAILED = {"busy", "no-answer", "failed", "canceled"}


def _say(resp: VoiceResponse | object, text: str, lang: str) -> None:
    voice = getattr(_settings(), f"twilio_voice_{lang}", "") or None
    resp.say(text, voice=voice, language=LOCALES.get(lang, "en-US"))  # type: ignore[attr-defined]


def _int(name: str) -> int | None:
    """A number Twilio posts (a duration): None when absent, 400 when malformed or out of range."""
    return optional_int(request.form.get(name), name, low=0)


def _factory():  # noqa: ANN202
    return current_app.extensions["session_factory"]


def _offer_id() -> int:
    return optional_int(request.args.get("offer"), "offer") or 0


def _bad(what: str) -> Response:
    return Response(f"unknown {what}", status=404, mimetype="text/plain")


@bp.post("/offer")
@twilio_signed
@retried
def offer():  # noqa: ANN201
    """The agent picked up: a machine fails the offer; a person hears the whisper and may press 1."""
    resp = VoiceResponse()
    with session_scope(_factory()) as session:
        row = session.get(CallOffer, _offer_id())
        if row is None:
            return _bad("offer")
        staff = session.get(StaffUser, session.get(distribution.Agent, row.agent_id).staff_id)
        lang = staff.language if staff.language in LOCALES else "en"
        answered_by = request.form.get("AnsweredBy", "")
        call = session.get(Call, row.call_id)
        if answered_by_machine(answered_by):
            distribution.offer_failed(session, row, _now(), OfferStatus.NO_ANSWER)
            resp.hangup()
        elif row.status not in (OfferStatus.PENDING, OfferStatus.RINGING) or call is None or not call.waiting_in_queue:
            _say(resp, distribution.CALLER_GONE[lang], lang)
            resp.hangup()
        else:
            if row.status == OfferStatus.PENDING:
                row.status = OfferStatus.RINGING
                row.provider_call_id = request.form.get("CallSid")
            gather = resp.gather(action=_url("/twilio/agent/take", offer=row.id), method="POST", input="dtmf",
                                 num_digits=1, timeout=8, action_on_empty_result=True)
            _say(gather, distribution.whisper(session, call, lang, _now()), lang)
    return _twiml(resp)


@bp.post("/take")
@twilio_signed
@retried
def take():  # noqa: ANN201
    """1 takes the call: dial the caller's own queue. Anything else (or silence) passes it on."""
    resp = VoiceResponse()
    with session_scope(_factory()) as session:
        row = session.get(CallOffer, _offer_id())
        if row is None:
            return _bad("offer")
        if request.form.get("Digits", "")[:1] != "1":
            distribution.offer_failed(session, row, _now(), OfferStatus.DECLINED)
            resp.hangup()
            return _twiml(resp)
        call = distribution.offer_accepted(session, row, _now())
        if call is None:
            staff = session.get(StaffUser, session.get(distribution.Agent, row.agent_id).staff_id)
            lang = staff.language if staff.language in LOCALES else "en"
            _say(resp, distribution.CALLER_GONE[lang], lang)
            resp.hangup()
            return _twiml(resp)
        dial = Dial(action=_url("/twilio/agent/done", offer=row.id), method="POST")
        dial.queue(distribution.queue_name(_settings().hotline_queue, call.id))
        resp.append(dial)
    return _twiml(resp)


@bp.post("/done")
@twilio_signed
@retried
def done():  # noqa: ANN201
    with session_scope(_factory()) as session:
        row = session.get(CallOffer, _offer_id())
        if row is None:
            return _bad("offer")
        distribution.agent_leg_ended(session, row, _now(), _int("DialCallDuration"))
    resp = VoiceResponse()
    resp.hangup()
    return _twiml(resp)


@bp.post("/status")
@twilio_signed
@retried
def status():  # noqa: ANN201
    """Status of the agent's leg: busy/no-answer/failed pass the caller on; completed ends the agent's call."""
    state = request.form.get("CallStatus", "")
    with session_scope(_factory()) as session:
        row = session.get(CallOffer, _offer_id())
        if row is None:
            return _bad("offer")
        if state in FINAL_FAILED:
            distribution.offer_failed(session, row, _now(), OfferStatus.NO_ANSWER)
        elif state == "completed":
            distribution.agent_leg_ended(session, row, _now())
    return _twiml(VoiceResponse())


def _callback_row(session) -> Call | None:  # noqa: ANN001
    call_id = optional_int(request.args.get("call"), "call")
    row = session.get(Call, call_id) if call_id is not None else None
    return row if row is not None and row.callback_of_id is not None else None


@bp.post("/callback")
@twilio_signed
@retried
def callback():  # noqa: ANN201
    """The agent answered their phone: tell them who, then dial the customer, recorded like any call."""
    resp = VoiceResponse()
    with session_scope(_factory()) as session:
        back = _callback_row(session)
        if back is None:
            return _bad("callback")
        staff = session.get(StaffUser, back.agent_id)
        lang = staff.language if staff and staff.language in LOCALES else "en"
        contact = session.get(Contact, back.contact_id) if back.contact_id else None
        company = session.get(Company, back.company_id) if back.company_id else None
        _say(resp, callbacks.CALLBACK_WHISPER[lang].format(
            name=contact.name if contact else back.caller_number, company=company.name if company else ""), lang)
        if back.provider_call_id.startswith("callback:") and request.form.get("CallSid"):
            back.provider_call_id = request.form["CallSid"]
        dial = Dial(action=_url("/twilio/agent/callback-done", call=back.id), method="POST",
                    record="record-from-answer-dual", recording_status_callback=_url("/twilio/recording"),
                    recording_status_callback_event="in-progress completed absent",
                    caller_id=_settings().twilio_from_number or None, timeout=30)
        dial.number(back.caller_number)
        resp.append(dial)
    return _twiml(resp)


@bp.post("/callback-done")
@twilio_signed
@retried
def callback_done():  # noqa: ANN201
    with session_scope(_factory()) as session:
        back = _callback_row(session)
        if back is None:
            return _bad("callback")
        connected = request.form.get("DialCallStatus") in ("completed", "answered")
        if connected:
            callbacks.callback_connected(session, back, _now())
        callbacks.callback_finished(session, back, _now(), connected=connected,
                                       talk_seconds=_int("DialCallDuration"))
    resp = VoiceResponse()
    resp.hangup()
    return _twiml(resp)


@bp.post("/callback-status")
@twilio_signed
@retried
def callback_status():  # noqa: ANN201
    with session_scope(_factory()) as session:
        back = _callback_row(session)
        if back is None:
            return _bad("callback")
        if request.form.get("CallStatus") in FINAL_FAILED and back.ended_at is None:
            callbacks.callback_finished(session, back, _now(), connected=False)
    return _twiml(VoiceResponse())
