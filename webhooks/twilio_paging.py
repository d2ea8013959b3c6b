"""Twilio adapters for on-call paging: page calls (TwiML, keypress), SMS replies, status callbacks.

Thin: signature check, one call into callcenter.paging.commands in a unit of work, TwiML. No network
I/O here; any SMS or call that results is an outbox row sent by the worker. Twilio does not retry a
failed webhook, so a turn that lost a deadlock or serialisation race is run again here (the commands
read the state they act on under its lock), never answered with a 500.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, request
from sqlalchemy.exc import IntegrityError
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from callcenter.alert_text import said_in
from callcenter.config import Settings
from callcenter.db_unavailable import DATABASE_UNAVAILABLE
from callcenter.paging import commands, notify
from callcenter.unit_of_work import run
from callcenter.validation import optional_int
from callcenter.web.db import session_factory

from .twilio_signature import twilio_signed
from .twilio_voice import answered_by_machine

log = logging.getLogger(__name__)
paging_twilio = Blueprint("paging_twilio", __name__)


def _settings() -> Settings:
    return current_app.config["SETTINGS"]


def _now() -> datetime:
    # Tests run the app and the worker on one controlled clock (app.config["PAGING_CLOCK"]).
    clock = current_app.config.get("PAGING_CLOCK")
    return clock() if clock else datetime.now(UTC)


def _xml(body: object) -> Response:
    return Response(str(body), mimetype="application/xml")


def _empty() -> Response:
    # Twilio logs an empty body without a content type as an error; an empty <Response/> is clean.
    return _xml(VoiceResponse())


def _message_id() -> int | None:
    return optional_int(request.args.get("n"), "n")


def _seq() -> int | None:
    return optional_int(request.form.get("SequenceNumber"), "SequenceNumber", low=0)


def _render(call: commands.PageCall | None, repeat: str = "0") -> Response:
    response = VoiceResponse()
    if call is None:
        response.hangup()
        return _xml(response)
    voice, lang = notify.voice(call.language)
    # Every URL of the call names its language too: see _said_when_unavailable.
    url = notify.voice_url(call.message_id, call.language)
    if call.next == "repeat":
        response.redirect(url)
    elif call.next == "menu_again":
        response.redirect(f"{url}&r=1")
    elif call.next == "menu":
        gather = response.gather(num_digits=1, timeout=8,
                                 action=notify.voice_url(call.message_id, call.language, f"{notify.VOICE_PATH}/key"))
        for text in call.say:
            gather.say(text, voice=voice, language=lang)
        if repeat == "0":
            response.redirect(f"{url}&r=1")
        else:
            response.say(notify.phrase(call.language, "bye"), voice=voice, language=lang)
            response.hangup()
    else:
        for text in call.say:
            response.say(text, voice=voice, language=lang)
        response.hangup()
    return _xml(response)



def _said_when_unavailable(view: Callable[[], Response]) -> Callable[[], Response]:
    """A page call whose turn the database cannot take (stalled, unreachable): the engineer hears that
    nothing was recorded and that the page will come again (it does: the alert keeps escalating),
    instead of Twilio's "an application error has occurred". Said in the language the call's URL names,
    since the person cannot be read."""

    @functools.wraps(view)
    def wrapper() -> Response:
        try:
            return view()
        except DATABASE_UNAVAILABLE:
            log.exception("page call turn %s?%s not recorded: the database did not answer in time", request.path,
                          request.query_string.decode()[:100])
            response = VoiceResponse()
            language = notify.url_language(request.args.get("l")) or _settings().default_language
            voice, lang = notify.voice(language)
            response.say(said_in(commands.CALL_NOT_RECORDED, language), voice=voice, language=lang)
            response.hangup()
            return _xml(response)

    return wrapper


@paging_twilio.post("/twilio/page/voice")
@twilio_signed
@_said_when_unavailable
def page_voice() -> Response:
    """The page call was answered: read the alert, then wait for a key (a voicemail never presses one)."""
    answered_by, message_id, now = request.form.get("AnsweredBy"), _message_id(), _now()
    call = run(session_factory(), lambda s: commands.answered(
        s, message_id=message_id, answered_by=answered_by, machine=answered_by_machine(answered_by), now=now))
    return _render(call, request.args.get("r", "0"))


@paging_twilio.post("/twilio/page/voice/key")
@twilio_signed
@_said_when_unavailable
def page_voice_key() -> Response:
    message_id, digits, now = _message_id(), request.form.get("Digits", ""), _now()
    call = run(session_factory(), lambda s: commands.key_pressed(s, message_id=message_id, digits=digits, now=now))
    return _render(call)


@paging_twilio.post("/twilio/page/sms-status")
@twilio_signed
def page_sms_status() -> Response:
    sid, status = request.form.get("MessageSid", ""), request.form.get("MessageStatus", "")
    if sid and status:
        now, error_code, claim_ref = _now(), request.form.get("ErrorCode") or None, request.args.get("o")
        run(session_factory(), lambda s: commands.status_report(s, provider_ref=sid, status=status, now=now,
                                                                error_code=error_code, claim_ref=claim_ref))
    return _empty()


@paging_twilio.post("/twilio/page/call-status")
@twilio_signed
def page_call_status() -> Response:
    sid, status = request.form.get("CallSid", ""), request.form.get("CallStatus", "")
    if sid and status:
        answered_by, now, seq = request.form.get("AnsweredBy"), _now(), _seq()
        error_code, claim_ref = request.form.get("ErrorCode") or None, request.args.get("o")
        run(session_factory(), lambda s: commands.status_report(
            s, provider_ref=sid, status=status, now=now, sequence=seq, error_code=error_code, claim_ref=claim_ref,
            answered_by=answered_by, machine=answered_by_machine(answered_by)))
    return _empty()


def _not_recorded(sender: str) -> str:
    """"Send it again" in the language of the sender's number's country; English follows a guess that is
    not English, since the person (and their language) cannot be read while the database is unavailable."""
    language = notify.language_of_number(sender) or _settings().default_language
    text = said_in(commands.NOT_RECORDED, language)
    english = said_in(commands.NOT_RECORDED, "en")
    return text if text == english else f"{text}\n{english}"


@paging_twilio.post("/twilio/sms")
@twilio_signed
def inbound_sms() -> Response:
    """Replies to pages: ACK 15789 / 1 / ESC 15789 / RES 15789 (the language is in paging.commands)."""
    sender, body, now = request.form.get("From", ""), request.form.get("Body", ""), _now()
    ref = request.form.get("MessageSid") or request.form.get("SmsSid") or None
    try:
        try:
            text = run(session_factory(), lambda s: commands.sms_reply(s, message_ref=ref, sender=sender, body=body,
                                                                      now=now))
        except IntegrityError:
            if ref is None:
                raise
            # The same SMS delivered twice at once: the twin acted and committed; answer as it did.
            text = run(session_factory(), lambda s: commands.sms_answer(s, ref))
    except DATABASE_UNAVAILABLE:
        # The database is unreachable or stalled (nothing of the reply was committed). Twilio does not
        # retry an SMS webhook: without an answer the engineer would take the page for acknowledged.
        log.exception("SMS reply from %s not recorded: the database did not answer in time", sender)
        text = _not_recorded(sender)
    response = MessagingResponse()
    if text is not None:
        response.message(text)
    return _xml(response)
