"""Self-tests of the fake Twilio, against a tiny Flask app that validates signatures for real."""

from __future__ import annotations

import io
import threading
import wave
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
import requests
from fake_twilio import CallSession, FakeTwilio, TwilioCallbackError, compute_signature
from flask import Flask, Response, abort, request
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.voice_response import Enqueue, Gather, VoiceResponse
from werkzeug.datastructures import MultiDict
from werkzeug.serving import make_server

PUBLIC_URL = "https://hotline.example"
CALLER = "+36201234567"
HOTLINE = "+3619999999"


def make_app(auth_token: str, public_url: str) -> Flask:
    """IVR in miniature: menu -> redirect -> queue with a leave rule -> escalation."""
    app = Flask("mini_hotline")
    validator = RequestValidator(auth_token)
    app.config["seen"] = []

    @app.before_request
    def check_signature() -> None:
        # Reconstruct the public URL as the reference recommends, never request.url.
        url = public_url + request.path
        if request.query_string:
            url += "?" + request.query_string.decode()
        if not validator.validate(url, request.form, request.headers.get("X-Twilio-Signature", "")):
            abort(403)
        app.config["seen"].append((request.path, request.form.to_dict(flat=False)))

    def twiml(resp: VoiceResponse) -> Response:
        return Response(str(resp), mimetype="text/xml")

    @app.post("/twilio/voice")
    def voice() -> Response:
        resp = VoiceResponse()
        gather = Gather(action="/twilio/voice/menu", num_digits=1, timeout=5)
        gather.say("Nyomja meg az 1-est.", language="hu-HU", voice="Google.hu-HU-Standard-A")
        resp.append(gather)
        resp.say("Nem kaptunk választ.", language="hu-HU")
        resp.hangup()
        return twiml(resp)

    @app.post("/twilio/voice/menu")
    def menu() -> Response:
        resp = VoiceResponse()
        if request.form.get("Digits") == "1":
            resp.redirect("/twilio/voice/queue?lang=hu")
        else:
            resp.say("Érvénytelen választás.")
            resp.hangup()
        return twiml(resp)

    @app.post("/twilio/voice/queue")
    def queue() -> Response:
        resp = VoiceResponse()
        resp.say("Kapcsoljuk.", language=request.args.get("lang", "en"))
        enqueue = Enqueue(action="/twilio/voice/queue-done", wait_url="/twilio/voice/wait")
        enqueue.value = "hotline"
        resp.append(enqueue)
        return twiml(resp)

    @app.post("/twilio/voice/wait")
    def wait() -> Response:
        resp = VoiceResponse()
        if int(request.form["QueueTime"]) >= 120:
            resp.leave()
        else:
            resp.say(f"Ön a {request.form['QueuePosition']}. a sorban.")
        return twiml(resp)

    @app.post("/twilio/voice/queue-done")
    def queue_done() -> Response:
        resp = VoiceResponse()
        if request.form.get("QueueResult") == "leave":
            resp.say("Visszahívjuk.")
        resp.hangup()
        return twiml(resp)

    @app.post("/twilio/voice/page")
    def page() -> Response:
        resp = VoiceResponse()
        gather = Gather(action="/twilio/voice/page-ack?page=42", num_digits=1)
        gather.say("Riasztás: 42. jegy. Nyomjon 1-et a nyugtázáshoz.")
        resp.append(gather)
        return twiml(resp)

    @app.post("/twilio/voice/page-ack")
    def page_ack() -> Response:
        resp = VoiceResponse()
        resp.say(f"Nyugtázva {request.args['page']}" if request.form.get("Digits") == "1" else "Nincs nyugta")
        return twiml(resp)

    @app.post("/twilio/voice/status")
    @app.post("/twilio/sms/status")
    @app.post("/twilio/recording")
    def callbacks() -> tuple[str, int]:
        return "", 204

    @app.post("/twilio/sms")
    def sms() -> Response:
        return Response(f"<Response><Message>Kaptuk: {request.form['Body']}</Message></Response>", mimetype="text/xml")

    return app


@pytest.fixture()
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as f:
        yield f


@pytest.fixture()
def app(fake: FakeTwilio) -> Flask:
    flask_app = make_app(fake.auth_token, PUBLIC_URL)
    fake.attach_app(flask_app, PUBLIC_URL)
    return flask_app


# ---------------------------------------------------------------- signatures


def test_signature_matches_twilio_test_vector() -> None:
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert compute_signature("12345", url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert compute_signature("12345", url.replace("https", "http"), params) != "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_signature_agrees_with_request_validator_on_repeated_params() -> None:
    params = [("StatusCallbackEvent", "ringing"), ("StatusCallbackEvent", "answered"), ("Body", "árvíztűrő ✓")]
    url = "https://hotline.example/twilio/voice/status?x=1"
    sig = compute_signature("tok", url, params)

    assert RequestValidator("tok").validate(url, MultiDict(params), sig)
    assert not RequestValidator("other").validate(url, MultiDict(params), sig)


def test_tampered_signature_is_rejected_by_app(fake: FakeTwilio, app: Flask) -> None:
    fake.tamper_signatures = True
    resp = fake.inbound_sms(PUBLIC_URL, CALLER, HOTLINE, "hello")
    assert resp.status_code == 403


# ---------------------------------------------------------------- REST


def test_real_twilio_client_sends_sms_to_fake(fake: FakeTwilio) -> None:
    client = fake.client()
    msg = client.messages.create(
        to=CALLER, from_=HOTLINE, body="Jegy #42 megnyitva", status_callback=PUBLIC_URL + "/twilio/sms/status"
    )
    assert msg.sid.startswith("SM") and msg.status == "queued"
    got = fake.wait_for_message(to=CALLER)
    assert got.sid == msg.sid and got.body == "Jegy #42 megnyitva"
    assert got.status_callback == PUBLIC_URL + "/twilio/sms/status"
    assert client.messages(msg.sid).fetch().body == "Jegy #42 megnyitva"
    fake.assert_nothing_unexpected()


def test_undocumented_base_url_override_also_works(fake: FakeTwilio) -> None:
    client = Client(fake.account_sid, fake.auth_token)
    client.api.base_url = fake.base_url
    # Direct requests would honour HTTP(S)_PROXY; the fake is on loopback, so bypass it.
    client.http_client.session.trust_env = False
    assert client.messages.create(to=CALLER, from_=HOTLINE, body="x").sid.startswith("SM")


def test_wrong_credentials_get_401(fake: FakeTwilio) -> None:
    client = Client(fake.account_sid, "wrong-token", http_client=fake.http_client())
    with pytest.raises(TwilioRestException) as err:
        client.messages.create(to=CALLER, from_=HOTLINE, body="x")
    assert err.value.status == 401 and err.value.code == 20003
    assert fake.messages == [] and fake.requests[-1].status == 401


def test_failure_injection_then_success(fake: FakeTwilio) -> None:
    client = fake.client()
    fake.fail_next(1, status=503)
    fake.fail_next(1, status=429, retry_after=2)
    fake.fail_next(1, status=400, code=21211, message="Invalid 'To' Phone Number")
    statuses = []
    for _ in range(3):
        with pytest.raises(TwilioRestException) as err:
            client.messages.create(to=CALLER, from_=HOTLINE, body="retry me")
        statuses.append((err.value.status, err.value.code))
    assert statuses == [(503, 20500), (429, 20429), (400, 21211)]
    assert client.messages.create(to=CALLER, from_=HOTLINE, body="retry me").status == "queued"
    assert len(fake.messages) == 1
    assert [r.status for r in fake.requests] == [503, 429, 400, 201]


def test_invalid_number_is_rejected_like_twilio(fake: FakeTwilio) -> None:
    fake.reject_number("+36301111111", code=21614, message="'To' number is not a valid mobile number")
    client = fake.client()
    with pytest.raises(TwilioRestException) as err:
        client.calls.create(to="not-a-number", from_=HOTLINE, url=PUBLIC_URL + "/twilio/voice/page")
    assert err.value.code == 21211
    with pytest.raises(TwilioRestException) as err:
        client.messages.create(to="+36301111111", from_=HOTLINE, body="x")
    assert err.value.code == 21614


def test_message_status_callbacks_any_order(fake: FakeTwilio, app: Flask) -> None:
    sid = (
        fake.client()
        .messages.create(to=CALLER, from_=HOTLINE, body="x", status_callback=PUBLIC_URL + "/twilio/sms/status")
        .sid
    )
    for status in ("delivered", "sent", "delivered"):
        assert fake.message_status(sid, status).status_code == 204
    assert fake.message_status(sid, "undelivered", error_code=30003).ok
    seen = [form for path, form in app.config["seen"] if path == "/twilio/sms/status"]
    assert [f["MessageStatus"][0] for f in seen] == ["delivered", "sent", "delivered", "undelivered"]
    assert seen[-1]["ErrorCode"] == ["30003"] and seen[0]["To"] == [CALLER]


def test_inbound_sms_returns_twiml(fake: FakeTwilio, app: Flask) -> None:
    resp = fake.inbound_sms(PUBLIC_URL, CALLER, HOTLINE, "ACK 42")
    assert resp.status_code == 200
    assert ET.fromstring(resp.text).find("Message").text == "Kaptuk: ACK 42"


# ---------------------------------------------------------------- voice


def test_inbound_call_gather_redirect_enqueue_leave(fake: FakeTwilio, app: Flask) -> None:
    session = fake.start_inbound_call(PUBLIC_URL, CALLER, HOTLINE, status_callback=PUBLIC_URL + "/twilio/voice/status")
    assert session.state == "gather"
    assert session.heard[0].text == "Nyomja meg az 1-est."
    assert session.heard[0].language == "hu-HU" and session.heard[0].voice == "Google.hu-HU-Standard-A"
    first = app.config["seen"][0][1]
    assert first["CallStatus"] == ["ringing"] and first["Direction"] == ["inbound"] and first["Caller"] == [CALLER]

    session.press("1")  # -> menu -> Redirect (relative, with query) -> queue
    assert session.state == "enqueue"
    assert session.said[-1] == "Kapcsoljuk." and session.heard[-1].language == "hu"
    assert session.doc_url == PUBLIC_URL + "/twilio/voice/queue?lang=hu"

    session.queue_wait(queue_time=30, position=2)
    assert session.said[-1] == "Ön a 2. a sorban." and session.state == "enqueue"
    session.queue_wait(queue_time=120)
    assert session.said[-1] == "Visszahívjuk." and session.ended and session.end_reason == "hangup"
    done = [f for p, f in app.config["seen"] if p == "/twilio/voice/queue-done"]
    assert done[0]["QueueResult"] == ["leave"] and done[0]["QueueTime"] == ["120"]

    assert session.hangup().status_code == 204
    status = app.config["seen"][-1][1]
    assert status["CallStatus"] == ["completed"] and status["SequenceNumber"] == ["0"]
    assert session.hangup() is None  # the completed callback is sent once


def test_gather_timeout_falls_through(fake: FakeTwilio, app: Flask) -> None:
    session = fake.start_inbound_call(PUBLIC_URL, CALLER, HOTLINE)
    session.gather_timeout()
    assert session.said[-1] == "Nem kaptunk választ." and session.ended
    with pytest.raises(TwilioCallbackError):
        session.press("1")


def test_outbound_page_answered_and_acknowledged(fake: FakeTwilio, app: Flask) -> None:
    call = fake.client().calls.create(
        to=CALLER,
        from_=HOTLINE,
        url=PUBLIC_URL + "/twilio/voice/page",
        status_callback=PUBLIC_URL + "/twilio/voice/status",
        status_callback_event=["initiated", "ringing", "answered", "completed"],
        machine_detection="Enable",
        timeout=25,
    )
    created = fake.wait_for_call(to=CALLER)
    assert created.sid == call.sid and created.status_callback_events == [
        "initiated",
        "ringing",
        "answered",
        "completed",
    ]
    assert created.machine_detection == "Enable" and created.timeout == 25
    fake.ring(call.sid)
    session = fake.answer_call(call.sid, answered_by="human")
    assert isinstance(session, CallSession) and session.state == "gather"
    assert "42. jegy" in session.transcript
    session.press("1")
    assert session.said[-1] == "Nyugtázva 42" and session.ended
    session.hangup(duration=17)

    statuses = [f for p, f in app.config["seen"] if p == "/twilio/voice/status"]
    assert [(f["CallStatus"][0], f["SequenceNumber"][0]) for f in statuses] == [
        ("initiated", "0"),
        ("ringing", "1"),
        ("in-progress", "2"),
        ("completed", "3"),
    ]
    assert statuses[2]["AnsweredBy"] == ["human"] and statuses[3]["CallDuration"] == ["17"]
    page = next(f for p, f in app.config["seen"] if p == "/twilio/voice/page")
    assert page["Direction"] == ["outbound-api"] and page["CallStatus"] == ["in-progress"]
    fake.assert_nothing_unexpected()


def test_status_callbacks_follow_subscription_and_can_be_reordered(fake: FakeTwilio, app: Flask) -> None:
    sid = (
        fake.client()
        .calls.create(
            to=CALLER, from_=HOTLINE, twiml="<Response/>", status_callback=PUBLIC_URL + "/twilio/voice/status"
        )
        .sid
    )
    assert fake.call_status(sid, "ringing") is None  # only 'completed' is subscribed by default
    late = fake.prepare_call_status(sid, "ringing", force=True)
    assert fake.busy(sid).status_code == 204
    fake.deliver(late)
    fake.deliver(late)
    seqs = [(f["CallStatus"][0], f["SequenceNumber"][0]) for p, f in app.config["seen"] if p == "/twilio/voice/status"]
    assert seqs == [("busy", "1"), ("ringing", "0"), ("ringing", "0")]


def test_recording_callback_and_download(fake: FakeTwilio, app: Flask) -> None:
    resp = fake.recording_completed("CA" + "0" * 32, PUBLIC_URL + "/twilio/recording", duration=3)
    assert resp.status_code == 204
    form = app.config["seen"][-1][1]
    assert form["RecordingStatus"] == ["completed"] and form["RecordingDuration"] == ["3"]
    url = form["RecordingUrl"][0]
    assert url.startswith(fake.account_url + "/Recordings/RE") and not url.endswith(".wav")

    session = requests.Session()
    session.trust_env = False
    wav = session.get(url + ".wav", timeout=5)
    assert wav.status_code == 200 and wav.headers["Content-Type"] == "audio/x-wav"
    with wave.open(io.BytesIO(wav.content)) as w:
        assert w.getnchannels() == 1 and w.getframerate() == 8000 and w.getnframes() > 0
    assert session.get(url + ".mp3", timeout=5).content[:2] == b"\xff\xfb"
    fake.require_recording_auth = True
    assert session.get(url + ".wav", timeout=5).status_code == 401
    assert session.get(url + ".wav", auth=(fake.account_sid, fake.auth_token), timeout=5).status_code == 200
    assert session.get(fake.account_url + "/Recordings/RE404.wav", timeout=5).status_code == 401


def test_record_verb_and_dial_result(fake: FakeTwilio) -> None:
    app = Flask("rec")

    @app.post("/v")
    def v() -> Response:
        return Response('<Response><Record action="/r" maxLength="60"/><Say>fallthrough</Say></Response>')

    @app.post("/r")
    def r() -> Response:
        assert request.form["RecordingDuration"] == "7"
        return Response('<Response><Dial action="/d" timeout="20"><Number>+3612345678</Number></Dial></Response>')

    @app.post("/d")
    def d() -> Response:
        return Response(f"<Response><Say>{request.form['DialCallStatus']}</Say></Response>")

    fake.attach_app(app, "https://rec.example")
    session = fake.start_inbound_call("https://rec.example", CALLER, HOTLINE, path="/v")
    session.record(duration=7)
    assert session.state == "dial" and session.heard[-1].kind == "dial" and session.heard[-1].text == "+3612345678"
    session.dial_result("no-answer")
    assert session.said == ["no-answer"] and session.ended


def test_over_real_http_server(fake: FakeTwilio) -> None:
    """The same driver posts over HTTP to a running server, signing the public URL."""
    server = make_server("127.0.0.1", 0, make_app(fake.auth_token, "PLACEHOLDER"), threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    server.app = make_app(fake.auth_token, base)  # the app must know its own public URL
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        session = fake.start_inbound_call(base, CALLER, HOTLINE)
        session.press("9")
        assert session.said[-1] == "Érvénytelen választás." and session.ended
    finally:
        server.shutdown()
        thread.join(5)


def test_broken_webhook_goes_to_fallback_and_inline_twiml_runs(fake: FakeTwilio) -> None:
    app = Flask("broken")

    @app.post("/page")
    def page() -> tuple[str, int]:
        return "boom", 500

    @app.post("/fallback")
    def fallback() -> Response:
        return Response(f"<Response><Say>fallback {request.form['ErrorCode']}</Say></Response>")

    fake.attach_app(app, "https://broken.example")
    client = fake.client()
    sid = client.calls.create(
        to=CALLER, from_=HOTLINE, url="https://broken.example/page", fallback_url="https://broken.example/fallback"
    ).sid
    assert client.calls(sid).fetch().status == "queued"
    session = fake.answer_call(sid)  # no StatusCallback: nothing to post, no error
    assert session.said == ["fallback 11200"] and session.doc_url == "https://broken.example/fallback"
    assert session.hangup() is None

    inline = client.calls.create(to=CALLER, from_=HOTLINE, twiml="<Response><Say>inline</Say></Response>").sid
    assert fake.answer_call(inline, answered_by=None).said == ["inline"]
    assert [c.sid for c in (fake.wait_for_call(), fake.wait_for_call())] == [sid, inline]
    with pytest.raises(AssertionError):
        fake.wait_for_call(timeout=0.1)
