"""Twilio voice adapter: signed webhooks -> flow engine -> TwiML.

Stateless: the flow step travels in the URL (`/twilio/voice/step?step=menu&turn=1`), the call's state
is in the database, keyed by CallSid; the turn number lets a request Twilio repeats be answered as
before without acting twice. If the database is unavailable, or a turn cannot finish within
CALLCENTER_VOICE_TURN_SECONDS, the caller is routed to the emergency number instead of hearing an
application error or silence.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, request
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import Start, VoiceResponse

from callcenter import calls, recordings
from callcenter.config import Settings
from callcenter.db import deadline
from callcenter.distribution import queue_name
from callcenter.ivr.engine import (
    Dial,
    Enqueue,
    FlowEngine,
    Gather,
    Hangup,
    Hold,
    Input,
    Leave,
    Record,
    Say,
    StartRecording,
    Turn,
)
from callcenter.unit_of_work import retry, run
from callcenter.validation import optional_int

from .twilio_signature import twilio_signed

log = logging.getLogger(__name__)

bp = Blueprint("twilio_voice", __name__, url_prefix="/twilio")

LOCALES = {"hu": "hu-HU", "el": "el-GR", "en": "en-US"}


def _settings() -> Settings:
    return current_app.config["SETTINGS"]


def _now() -> datetime:
    clock: Callable[[], datetime] = current_app.config.get("HOTLINE_CLOCK") or (lambda: datetime.now(UTC))
    return clock()


def flow_engine() -> FlowEngine:
    engine = current_app.extensions.get("hotline_flow_engine")
    if engine is None:
        engine = current_app.extensions["hotline_flow_engine"] = FlowEngine(_settings())
    return engine


def _url(path: str, **query: str) -> str:
    # Absolute, and plain ASCII queries: Twilio signs exactly this URL.
    base = _settings().public_url.rstrip("/") + path
    return base + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def answered_by_machine(answered_by: str | None) -> bool:
    """Twilio's AnsweredBy for voicemail, an answering machine or a fax: nobody was reached."""
    return bool(answered_by) and answered_by.startswith(("machine", "fax"))


def _step_url(step: str, turn: Turn) -> str:
    # The call's language rides along (`lang`): a turn the database cannot take is still routed to the
    # emergency number in the caller's language (_emergency), since the call's row cannot be read then.
    query = {"step": step} if turn.seq is None else {"step": step, "turn": str(turn.seq)}
    lang = turn.lang
    return _url("/twilio/voice/step", **query, **({"lang": lang} if lang else {}))


def _twiml(resp: VoiceResponse) -> Response:
    return Response(str(resp), mimetype="text/xml")


def _say(target: VoiceResponse | object, say: Say) -> None:
    settings = _settings()
    voice = getattr(settings, f"twilio_voice_{say.lang}", "") or None
    target.say(say.text, voice=voice, language=LOCALES.get(say.lang, "en-US"))  # type: ignore[attr-defined]


def render(turn: Turn) -> VoiceResponse:
    """Neutral instructions -> TwiML."""
    resp = VoiceResponse()
    for ins in turn.instructions:
        if isinstance(ins, Say):
            _say(resp, ins)
        elif isinstance(ins, StartRecording):
            start = Start()
            start.recording(recording_status_callback=_url("/twilio/recording"),
                            recording_status_callback_method="POST",
                            recording_status_callback_event="in-progress completed absent",
                            channels="dual", track="both")
            resp.append(start)
        elif isinstance(ins, Gather):
            gather = resp.gather(action=_step_url(ins.step, turn), method="POST", input="dtmf",
                                 timeout=ins.timeout, num_digits=ins.num_digits, finish_on_key=ins.finish_on_key,
                                 action_on_empty_result=True)
            for say in ins.prompts:
                _say(gather, say)
        elif isinstance(ins, Record):
            action = _step_url(ins.step, turn)
            resp.record(action=action, method="POST", max_length=ins.max_seconds, timeout=ins.silence_seconds,
                        finish_on_key="#", play_beep=True)
            # An empty recording does not request the action: Twilio runs on to this redirect.
            resp.redirect(action, method="POST")
        elif isinstance(ins, Enqueue):
            # A queue per caller: the agent who takes the offer dequeues exactly this caller.
            resp.enqueue(queue_name(ins.queue, turn.call_id), action=_step_url(ins.step, turn),
                         method="POST", wait_url=_url("/twilio/voice/wait"), wait_url_method="POST")
        elif isinstance(ins, Dial):
            resp.dial(ins.number, timeout=ins.timeout)
        elif isinstance(ins, Hold):
            resp.pause(length=ins.seconds)
        elif isinstance(ins, Leave):
            resp.leave()
        elif isinstance(ins, Hangup):
            resp.hangup()
    return resp


def _emergency() -> Response:
    # flow.language() takes only a language of the flow from the URL, else the default.
    return _twiml(render(flow_engine().emergency(request.args.get("lang"))))


RENDERED_CACHE_SIZE = 512


def render_cached(turn: Turn) -> str:
    """TwiML for a turn, from a per-app cache: most turns (the greeting and menu above all) are the same
    for every caller of a language, and building the XML tree costs more than the rest of a cached turn."""
    per_call = any(isinstance(ins, Enqueue) for ins in turn.instructions)  # the queue is named after the call
    key = (_settings().public_url, repr(turn.instructions), turn.seq, turn.call_id if per_call else None)
    cache: OrderedDict[tuple, str] = current_app.extensions.setdefault("hotline_twiml_cache", OrderedDict())
    xml = cache.get(key)
    if xml is None:
        xml = cache[key] = str(render(turn))
        while len(cache) > RENDERED_CACHE_SIZE:
            cache.popitem(last=False)
    return xml


def _run(work: Callable[..., Turn], first: Callable[[], Turn | None] | None = None) -> Response:
    """Run one engine turn in its own unit of work (run again after a deadlock or serialisation failure:
    a turn reads its call under the call's lock and says nothing before it commits); any failure, or a
    database that does not let it finish within the turn's time, routes the caller to the emergency
    number (and nothing of the turn is kept). `first`: a cheaper try that commits the turn by itself,
    or returns None (nothing written) for `work` to run."""
    try:
        with deadline(_settings().voice_turn_seconds):
            turn = retry(first) if first is not None else None
            if turn is None:
                turn = run(current_app.extensions["session_factory"], work)
        return Response(render_cached(turn), mimetype="text/xml")
    except Exception:
        log.exception("hotline: %s failed for call %s; routing to the emergency number",
                      request.path, request.form.get("CallSid"))
        return _emergency()


def _int(name: str) -> int | None:
    """A number Twilio posts (durations, queue time, sequence): None when absent, 400 when malformed."""
    return optional_int(request.form.get(name), name, low=0)


def _input() -> Input:
    form = request.form
    if "QueueResult" in form:
        return Input("queue", queue_result=form["QueueResult"], waited=_int("QueueTime"))
    if form.get("RecordingUrl"):
        return Input("recording", recording_id=form.get("RecordingSid") or form["RecordingUrl"].rsplit("/", 1)[-1],
                     recording_url=form["RecordingUrl"], duration=_int("RecordingDuration"))
    if "DialCallStatus" in form:
        return Input("dial")
    if form.get("Digits"):
        return Input("digits", digits=form["Digits"])
    return Input("timeout")


@bp.post("/voice")
@twilio_signed
def incoming():  # noqa: ANN201
    form = request.form
    call = dict(channel="twilio", provider_call_id=form.get("CallSid", ""), caller=form.get("From"),
                called=form.get("To"), now=_now())
    engine = flow_engine()
    return _run(lambda s: engine.start(s, **call),
                first=lambda: engine.start_cached(current_app.extensions["engine"], **call))


@bp.post("/voice/step")
@twilio_signed
def step():  # noqa: ANN201
    name = request.args.get("step", "")
    turn = request.args.get("turn", type=int)
    return _run(lambda s: flow_engine().advance(s, request.form.get("CallSid", ""), name, _input(), _now(),
                                                turn=turn))


@bp.post("/voice/wait")
@twilio_signed
def wait():  # noqa: ANN201
    queue_time = _int("QueueTime") or 0
    return _run(lambda s: flow_engine().queue_poll(s, request.form.get("CallSid", ""), queue_time, _now()))


@bp.post("/voice/fallback")
@twilio_signed
def fallback():  # noqa: ANN201
    log.error("Twilio fallback for call %s: ErrorCode %s at %s", request.form.get("CallSid"),
              request.form.get("ErrorCode"), request.form.get("ErrorUrl"))
    return _emergency()


def _callback(work: Callable[[Session], object]) -> None:
    """A status report's unit of work, bounded like a turn: a stalled database must not hold the web
    server's threads that callers' turns need (a missed report is made up by the ghost sweep)."""
    with deadline(_settings().voice_turn_seconds):
        run(current_app.extensions["session_factory"], work)


def _empty() -> Response:
    # An empty TwiML document with a content type: Twilio logs bodiless answers as errors.
    return Response(str(VoiceResponse()), mimetype="text/xml")


@bp.post("/voice/status")
@twilio_signed
def status():  # noqa: ANN201
    form = request.form
    if not form.get("CallSid") or not form.get("CallStatus"):
        return Response("CallSid and CallStatus are required", status=400, mimetype="text/plain")
    now, sequence, duration = _now(), _int("SequenceNumber"), _int("CallDuration")
    _callback(lambda s: calls.status_callback(s, provider_call_id=form["CallSid"], status=form["CallStatus"],
                                              now=now, sequence=sequence, duration=duration,
                                              caller=form.get("From"), called=form.get("To")))
    return _empty()


@bp.post("/recording")
@twilio_signed
def recording():  # noqa: ANN201
    form = request.form
    missing = [k for k in ("CallSid", "RecordingSid", "RecordingStatus") if not form.get(k)]
    if missing:
        return Response(f"missing: {', '.join(missing)}", status=400, mimetype="text/plain")
    now, duration = _now(), _int("RecordingDuration")
    _callback(lambda s: recordings.recording_status(
        s, provider_call_id=form["CallSid"], provider_recording_id=form["RecordingSid"],
        status=form["RecordingStatus"], now=now, url=form.get("RecordingUrl") or None,
        duration=duration, error=form.get("ErrorCode") or None))
    return _empty()
