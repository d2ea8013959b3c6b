"""Twilio adapters for on-call paging: page calls (TwiML, keypress), SMS replies, status callbacks.

Thin: signature check, parse, call the paging services, answer TwiML. No network I/O here; any
SMS or call that results is an outbox row sent by the worker.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, request
from sqlalchemy import select
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from callcenter import outbox
from callcenter.customers import try_normalize_phone
from callcenter.models import Alert, AlertStatus, OutboxMessage, Page, StaffUser
from callcenter.paging import alerts, engine, notify

from .twilio_signature import twilio_signed
from .twilio_voice import answered_by_machine

paging_twilio = Blueprint("paging_twilio", __name__)

ACK_KEYS, ESCALATE_KEYS, RESOLVE_KEYS = {"4", "1"}, {"5"}, {"6"}
SMS_COMMAND = re.compile(r"^\s*(ACK|ACKNOWLEDGE|A|4|1|ESC|ESCALATE|E|5|RES|RESOLVE|R|6)\s*#?\s*(\d+)?\s*[.!]*\s*$",
                         re.IGNORECASE)
SMS_ACTIONS = {"ack": "acknowledge", "acknowledge": "acknowledge", "a": "acknowledge", "4": "acknowledge",
               "1": "acknowledge", "esc": "escalate", "escalate": "escalate", "e": "escalate", "5": "escalate",
               "res": "resolve", "resolve": "resolve", "r": "resolve", "6": "resolve"}


def _now() -> datetime:
    # Tests run the app and the worker on one controlled clock (app.config["PAGING_CLOCK"]).
    clock = current_app.config.get("PAGING_CLOCK")
    return clock() if clock else datetime.now(UTC)


def _session():  # noqa: ANN202
    from callcenter.app import db_session

    return db_session()


def _xml(body: object) -> Response:
    return Response(str(body), mimetype="application/xml")


def _empty() -> Response:
    # Twilio logs an empty body without a content type as an error; an empty <Response/> is clean.
    return _xml(VoiceResponse())


def _notification() -> tuple[OutboxMessage, Page, Alert] | None:
    raw = request.args.get("n", "")
    if not raw.isdigit():
        return None
    session = _session()
    msg = session.get(OutboxMessage, int(raw))
    if msg is None or msg.source_kind != notify.SOURCE_KIND:
        return None
    page = session.get(Page, msg.source_id)
    if page is None:
        return None
    return msg, page, session.get(Alert, page.alert_id)


def _say(target: VoiceResponse, text: str, language: str | None) -> None:
    voice, lang = notify.voice(language)
    target.say(text, voice=voice, language=lang)


@paging_twilio.post("/twilio/page/voice")
@twilio_signed
def page_voice() -> Response:
    """The page call was answered: read the alert, then wait for a key (a voicemail never presses one)."""
    found = _notification()
    response = VoiceResponse()
    if found is None:
        response.hangup()
        return _xml(response)
    msg, page, alert = found
    language = page.staff.language
    session, now = _session(), _now()
    if answered_by_machine(request.form.get("AnsweredBy")):
        _say(response, notify.phrase(language, "machine", ref=notify._fields(alert, language)["ref"]), language)
        response.hangup()
        engine.record(session, alert, "machine", now, staff_id=page.staff_id, channel="voice",
                      detail=f"answered by {request.form.get('AnsweredBy')}: not counted as reached")
        session.commit()
        return _xml(response)
    if alert.status != AlertStatus.TRIGGERED:
        _say(response, notify.phrase(language, "closed", status=alert.status), language)
        response.hangup()
        return _xml(response)
    repeat = request.args.get("r", "0")
    gather = response.gather(num_digits=1, action=f"{notify.VOICE_PATH}/key?n={msg.id}", timeout=8)
    _say(gather, notify.spoken_alert(alert, language), language)
    _say(gather, notify.phrase(language, "menu"), language)
    if repeat == "0":
        response.redirect(f"{notify.VOICE_PATH}?n={msg.id}&r=1")
    else:
        _say(response, notify.phrase(language, "bye"), language)
        response.hangup()
    return _xml(response)


@paging_twilio.post("/twilio/page/voice/key")
@twilio_signed
def page_voice_key() -> Response:
    found = _notification()
    response = VoiceResponse()
    if found is None:
        response.hangup()
        return _xml(response)
    msg, page, alert = found
    language, digits = page.staff.language, request.form.get("Digits", "")
    session, now = _session(), _now()
    if digits == "*":
        response.redirect(f"{notify.VOICE_PATH}?n={msg.id}")
        return _xml(response)
    staff = page.staff
    if digits in ACK_KEYS:
        done, phrase = alerts.acknowledge(session, alert, staff=staff, channel="voice", now=now), "acked"
    elif digits in ESCALATE_KEYS:
        done, phrase = alerts.escalate_now(session, alert, staff=staff, channel="voice", now=now,
                                           expected_step=(page.loop, page.step)), "escalated"
    elif digits in RESOLVE_KEYS:
        done, phrase = alerts.resolve(session, alert, staff=staff, channel="voice", now=now), "resolved"
    else:
        response.redirect(f"{notify.VOICE_PATH}?n={msg.id}&r=1")
        return _xml(response)
    session.commit()
    _say(response, notify.phrase(language, phrase if done else "closed", status=alert.status), language)
    response.hangup()
    return _xml(response)


def _apply_status(ref: str, status: str, sequence: str | None, error_code: str | None) -> OutboxMessage | None:
    session = _session()
    seq = int(sequence) if sequence and sequence.isdigit() else None
    # Our claim reference in the callback URL ties the report to its row even before the sender recorded the SID.
    return outbox.record_status(session, ref, status, _now(), sequence=seq, error_code=error_code or None,
                                claim_ref=outbox.parse_claim_ref(request.args.get("o")))


@paging_twilio.post("/twilio/page/sms-status")
@twilio_signed
def page_sms_status() -> Response:
    sid = request.form.get("MessageSid", "")
    status = request.form.get("MessageStatus", "")
    if sid and status:
        _apply_status(sid, status, None, request.form.get("ErrorCode"))
        _session().commit()
    return _empty()


@paging_twilio.post("/twilio/page/call-status")
@twilio_signed
def page_call_status() -> Response:
    sid = request.form.get("CallSid", "")
    status = request.form.get("CallStatus", "")
    if not (sid and status):
        return _empty()
    session, now = _session(), _now()
    msg = _apply_status(sid, status, request.form.get("SequenceNumber"), request.form.get("ErrorCode"))
    if msg is not None and status == "in-progress" and answered_by_machine(request.form.get("AnsweredBy")):
        # Voicemail answered: move on now rather than after the call ends.
        page = session.get(Page, msg.source_id) if msg.source_id else None
        alert = session.get(Alert, page.alert_id) if page else None
        if alert is not None and alert.status == AlertStatus.TRIGGERED:
            engine.not_reached(session, msg, now, f"call answered by {request.form.get('AnsweredBy')}")
    session.commit()
    return _empty()


def _reply(text: str) -> Response:
    response = MessagingResponse()
    response.message(text)
    return _xml(response)


@paging_twilio.post("/twilio/sms")
@twilio_signed
def inbound_sms() -> Response:
    """Replies to pages: ACK 15789 / 1 / ESC 15789 / RES 15789 (case and spaces do not matter)."""
    session, now = _session(), _now()
    sender = try_normalize_phone(request.form.get("From", ""))
    staff = session.scalar(select(StaffUser).where(StaffUser.phone == sender, StaffUser.active.is_(True))) \
        if sender else None
    if staff is None:
        # Unknown numbers get no answer: replying could start an auto-responder loop.
        return _xml(MessagingResponse())
    match = SMS_COMMAND.match(request.form.get("Body", ""))
    if match is None:
        return _reply("Not understood. Reply ACK <number> to acknowledge, ESC <number> to escalate, "
                      "RES <number> to resolve.")
    action = SMS_ACTIONS[match.group(1).lower()]
    if match.group(2):
        alert = alerts.find_by_reference(session, int(match.group(2)))
        if alert is None:
            return _reply(f"No open alert {match.group(2)}.")
    else:
        candidates = alerts.open_alerts_paged_to(session, staff)
        if action == "acknowledge":
            candidates = [a for a in candidates if a.status == AlertStatus.TRIGGERED]
        if len(candidates) != 1:
            listed = ", ".join(str(a.reference) for a in candidates) or "none"
            return _reply(f"{len(candidates)} open alerts for you ({listed}); reply with the number, "
                          f"e.g. ACK {candidates[0].reference if candidates else 15789}.")
        alert = candidates[0]
    if action == "acknowledge":
        done = alerts.acknowledge(session, alert, staff=staff, channel="sms", now=now)
        if match.group(2) and alert.ticket_number:
            # "ACK 15789" means the ticket: its other open pages (standby, SLA) stop too.
            for other in alerts.open_alerts_for_ticket(session, alert.ticket_number):
                if other.id != alert.id:
                    done = alerts.acknowledge(session, other, staff=staff, channel="sms", now=now) or done
    elif action == "escalate":
        page = alerts.last_page(session, alert, staff)
        done = alerts.escalate_now(session, alert, staff=staff, channel="sms", now=now,
                                   expected_step=(page.loop, page.step) if page else None)
    else:
        done = alerts.resolve(session, alert, staff=staff, channel="sms", now=now)
    session.commit()
    past = {"acknowledge": "acknowledged", "escalate": "escalated", "resolve": "resolved"}[action]
    if done:
        return _reply(f"Alert {alert.reference} {past} by {staff.name}.")
    return _reply(f"Alert {alert.reference} not {past}: it is {alert.status}"
                  + (" and has moved on since your message." if action == "escalate" else "."))

