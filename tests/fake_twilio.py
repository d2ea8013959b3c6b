"""A local fake of Twilio for Hotline's tests.

Tests must never reach api.twilio.com, so this module emulates the parts of Twilio that
Hotline uses, in both directions:

* REST API (what ``twilio.rest.Client`` calls): Messages, Calls, Recordings media, with HTTP
  Basic auth, Twilio-style error JSON and programmable failure injection.
* Callbacks into the app under test, signed with ``X-Twilio-Signature`` exactly as
  ``twilio.request_validator.RequestValidator`` checks it: message and call status
  callbacks, inbound SMS, recording status, and a TwiML-following call driver
  (:class:`CallSession`) for inbound and outbound calls.

Nothing happens on a timer: every state change is made when the test asks for it, so the
tests are deterministic.

Pointing the real ``twilio`` client at the fake (the library has no base-URL option;
``edge``/``region`` only rewrite the host name)::

    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    class RedirectingHttpClient(TwilioHttpClient):
        def __init__(self, base_url: str) -> None:
            super().__init__()
            self.base_url = base_url.rstrip("/")
            self.session.trust_env = False      # never send loopback traffic to a proxy

        def request(self, method, url, *args, **kwargs):
            parts = urlsplit(url)
            url = self.base_url + parts.path + ("?" + parts.query if parts.query else "")
            return super().request(method, url, *args, **kwargs)

    client = Client(fake.account_sid, fake.auth_token,
                    http_client=RedirectingHttpClient(fake.base_url))

``fake.client()`` and ``fake.http_client()`` return exactly that.

Typical use::

    with FakeTwilio() as fake:
        fake.attach_app(flask_app, "https://hotline.example")   # or post over HTTP
        ... app sends an SMS through fake.client() ...
        msg = fake.wait_for_message(to="+3612345678")
        fake.message_status(msg.sid, "delivered")
        session = fake.start_inbound_call("https://hotline.example", "+36201234567", "+3619999999")
        session.press("1")
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import io
import json
import math
import re
import struct
import threading
import time
import uuid
import wave
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, Self
from urllib.parse import urlencode, urljoin, urlsplit

import requests
from flask import Flask, Response, request
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.rest import Client
from werkzeug.datastructures import MultiDict
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

API_VERSION = "2010-04-01"

# Twilio connects for up to 10 s and waits 15 s in total for a webhook answer; using the same
# bound makes a slow handler fail in tests the way it would in production.
WEBHOOK_TIMEOUT_S = 15.0
# How long wait_for_message/wait_for_call wait by default: a ceiling for a loaded machine (a passing run never
# waits for it). A test that checks nothing was sent passes timeout=0 after the work is done.
WAIT_CEILING = 30.0

Params = Sequence[tuple[str, str]]
ParamsLike = Mapping[str, Any] | Iterable[tuple[str, Any]]


def new_sid(prefix: str) -> str:
    """A Twilio-shaped SID: two-letter prefix and 32 hex digits."""
    return prefix + uuid.uuid4().hex


def _pairs(params: ParamsLike | None) -> list[tuple[str, str]]:
    """Flatten a dict (values may be lists) or a pair list into (name, value) pairs."""
    if params is None:
        return []
    if isinstance(params, MultiDict):
        return [(k, str(v)) for k, v in params.items(multi=True)]
    items = params.items() if isinstance(params, Mapping) else params
    out: list[tuple[str, str]] = []
    for key, value in items:
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            out.extend((key, str(v)) for v in value)
        else:
            out.append((key, str(value)))
    return out


def compute_signature(auth_token: str, url: str, params: ParamsLike | None = None) -> str:
    """X-Twilio-Signature for a request to ``url`` carrying form ``params``.

    URL exactly as requested (query included), then every parameter name sorted, each followed
    by its values sorted; HMAC-SHA1 keyed with the auth token; base64. Values of one name are
    de-duplicated because twilio-python's RequestValidator does so, and matching the validator
    the app uses is what matters here.
    """
    by_name: dict[str, set[str]] = {}
    for key, value in _pairs(params):
        by_name.setdefault(key, set()).add(value)
    payload = url + "".join(name + value for name in sorted(by_name) for value in sorted(by_name[name]))
    mac = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def _rfc2822_now() -> str:
    return email.utils.format_datetime(datetime.now(UTC))


def _parse_iso(value: str) -> datetime:
    """A date-time filter as twilio-python sends it (``2026-11-30T03:00:00Z``), or a bare date."""
    if len(value) == 10:
        value += "T00:00:00Z"
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- media


def make_wav(duration_s: float = 1.0, rate: int = 8000, freq: float = 440.0) -> bytes:
    """A valid mono 16-bit PCM WAV with a quiet sine tone (capped at 2 s to stay small)."""
    frames = int(rate * max(0.05, min(duration_s, 2.0)))
    samples = (int(3000 * math.sin(2 * math.pi * freq * i / rate)) for i in range(frames))
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return buf.getvalue()


def make_mp3(frames: int = 10) -> bytes:
    """Silent MPEG-1 Layer III frames (128 kbit/s, 44.1 kHz, mono): enough to sniff as MP3."""
    header = bytes([0xFF, 0xFB, 0x90, 0xC0])
    frame = header + bytes(417 - len(header))
    return frame * frames


# --------------------------------------------------------------------------- transports


@dataclass
class WebhookResponse:
    """What the app answered to a request the fake sent it."""

    url: str
    status_code: int
    text: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300


class Transport(Protocol):
    def send(self, method: str, url: str, params: Params, headers: Mapping[str, str]) -> WebhookResponse: ...


class HttpTransport:
    """Posts to a real server over HTTP."""

    def __init__(self, timeout: float = WEBHOOK_TIMEOUT_S) -> None:
        self.timeout = timeout
        self.session = requests.Session()
        # Test servers live on loopback; an inherited HTTP(S)_PROXY must not capture them.
        self.session.trust_env = False

    def send(self, method: str, url: str, params: Params, headers: Mapping[str, str]) -> WebhookResponse:
        resp = self.session.request(
            method,
            url,
            data=list(params) if method == "POST" else None,
            headers=dict(headers),
            timeout=self.timeout,
            allow_redirects=False,
        )
        return WebhookResponse(url, resp.status_code, resp.text, dict(resp.headers))


class FlaskTransport:
    """Feeds requests straight into a Flask app's test client, as if it served ``public_url``.

    The request is built with the public scheme and host, so ``request.url`` inside the app is
    the URL that was signed; the app's validation sees what it would behind a proxy that
    forwards the public host.
    """

    def __init__(self, app: Any, public_url: str) -> None:
        self.app = app
        self.public_url = public_url.rstrip("/")
        parts = urlsplit(self.public_url)
        self.base_url = f"{parts.scheme}://{parts.netloc}"

    def handles(self, url: str) -> bool:
        return url == self.public_url or url.startswith((self.public_url + "/", self.public_url + "?"))

    def send(self, method: str, url: str, params: Params, headers: Mapping[str, str]) -> WebhookResponse:
        parts = urlsplit(url)
        path = parts.path or "/"
        client = self.app.test_client()
        resp = client.open(
            path,
            method=method,
            base_url=self.base_url,
            query_string=parts.query or None,
            data=MultiDict(list(params)) if method == "POST" else None,
            headers=dict(headers),
        )
        try:
            return WebhookResponse(url, resp.status_code, resp.get_data(as_text=True), dict(resp.headers))
        finally:
            resp.close()


# --------------------------------------------------------------------------- records


@dataclass
class RecordedRequest:
    """One request the fake REST API received."""

    method: str
    path: str
    form: dict[str, list[str]]
    auth: tuple[str, str] | None
    status: int = 0


@dataclass
class FakeMessage:
    sid: str
    to: str
    from_: str
    body: str
    status_callback: str | None
    params: dict[str, list[str]]
    status: str = "queued"
    error_code: int | None = None
    date_created: str = field(default_factory=_rfc2822_now)
    at: float = field(default_factory=time.time)  # when the request arrived (epoch seconds), for latencies


@dataclass
class FakeCall:
    sid: str
    to: str
    from_: str
    direction: str
    url: str | None = None
    method: str = "POST"
    twiml: str | None = None
    status_callback: str | None = None
    status_callback_method: str = "POST"
    status_callback_events: list[str] = field(default_factory=lambda: ["completed"])
    machine_detection: str | None = None
    timeout: int | None = None
    fallback_url: str | None = None
    params: dict[str, list[str]] = field(default_factory=dict)
    status: str = "queued"
    answered_by: str | None = None
    sequence: int = 0
    started: float = field(default_factory=time.monotonic)
    date_created: str = field(default_factory=_rfc2822_now)
    at: float = field(default_factory=time.time)  # when the request arrived (epoch seconds), for latencies


@dataclass
class PreparedCallback:
    """A signed-on-send callback built now and delivered later (possibly twice, or reordered)."""

    url: str
    params: list[tuple[str, str]]
    method: str = "POST"


@dataclass
class _Failure:
    remaining: int
    status: int
    code: int | None
    message: str | None
    retry_after: int | None
    path_contains: str | None
    method: str | None


class TwilioCallbackError(AssertionError):
    """The app answered a TwiML request with an error or a document the fake cannot run."""


# Twilio maps call states to the StatusCallbackEvent names an app subscribes to.
_EVENT_FOR_STATUS = {
    "initiated": "initiated",
    "ringing": "ringing",
    "in-progress": "answered",
    "completed": "completed",
    "busy": "completed",
    "no-answer": "completed",
    "failed": "completed",
    "canceled": "completed",
}

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def _is_valid_address(number: str) -> bool:
    if number.startswith(("client:", "sip:", "whatsapp:")):
        return True
    return bool(_E164.match(number))


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        # One access-log line per fake request drowns pytest output; errors still log.
        pass


# --------------------------------------------------------------------------- the fake


class FakeTwilio:
    """Fake Twilio REST API on 127.0.0.1 (ephemeral port) plus signed callbacks to the app."""

    def __init__(
        self,
        account_sid: str | None = None,
        auth_token: str = "fake-auth-token-0123456789abcdef",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.account_sid = account_sid or new_sid("AC")
        self.auth_token = auth_token
        self.host = host
        self.port = port
        self.messages: list[FakeMessage] = []
        self.calls: list[FakeCall] = []
        self.requests: list[RecordedRequest] = []
        # Every callback/webhook the fake sent: (method, url, params, response).
        self.sent: list[tuple[str, str, list[tuple[str, str]], WebhookResponse]] = []
        self.recordings: dict[str, dict[str, Any]] = {}
        self.recording_fetches: dict[str, int] = {}  # media downloads per recording sid
        self.require_recording_auth = False
        # Calls Twilio holds in its queue (account rate limit): 'queued', no request made yet.
        self.hold_calls_queued = False
        self.held_calls: set[str] = set()
        # Seconds between accepting a new message or call and answering the request: Twilio has it,
        # the sender does not know yet (a sender killed meanwhile must find it by reconciliation).
        self.accept_delay = 0.0
        # Set to make every outgoing signature wrong, to test the app's 403 path.
        self.tamper_signatures = False
        self._rejected: dict[str, tuple[int, str, int]] = {}
        self._failures: list[_Failure] = []
        self._claimed: set[str] = set()
        self._queue_sids: dict[str, str] = {}
        self._cond = threading.Condition()
        self._apps: list[FlaskTransport] = []
        self._http = HttpTransport()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.wsgi_app = self._build_app()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeTwilio:
        self._server = make_server(self.host, self.port, self.wsgi_app, threaded=True, request_handler=_QuietHandler)
        self.port = self._server.server_port
        # A short poll interval keeps shutdown (once per test) from costing half a second.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-twilio", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """Scheme, host and port of the fake REST API, e.g. ``http://127.0.0.1:54321``."""
        return f"http://{self.host}:{self.port}"

    @property
    def account_url(self) -> str:
        return f"{self.base_url}/{API_VERSION}/Accounts/{self.account_sid}"

    def http_client(self, timeout: float | None = 10.0) -> TwilioHttpClient:
        """A ``TwilioHttpClient`` that sends every Twilio API request to this fake."""
        return RedirectingHttpClient(self.base_url, timeout=timeout)

    def client(self) -> Client:
        """A real ``twilio.rest.Client`` wired to this fake."""
        return Client(self.account_sid, self.auth_token, http_client=self.http_client())

    # ------------------------------------------------------------------ test configuration

    def attach_app(self, app: Any, public_url: str) -> None:
        """Deliver requests for URLs under ``public_url`` into ``app`` (a Flask app) in-process."""
        self._apps.append(FlaskTransport(app, public_url))

    def fail_next(
        self,
        count: int = 1,
        status: int = 500,
        code: int | None = None,
        message: str | None = None,
        *,
        retry_after: int | None = None,
        path_contains: str | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next ``count`` matching REST requests with an error instead of serving them.

        ``status`` 500/503/429 simulate outages and throttling; ``status=400, code=21211``
        gives Twilio's invalid-'To' error. Rules are consumed in the order they were added.
        """
        with self._cond:
            self._failures.append(_Failure(count, status, code, message, retry_after, path_contains, method))

    def reject_number(self, number: str, code: int = 21211, message: str | None = None, status: int = 400) -> None:
        """Every message or call to ``number`` fails with a Twilio error (permanent, unlike fail_next)."""
        self._rejected[number] = (code, message or f"Invalid 'To' Phone Number: {number}", status)

    # ------------------------------------------------------------------ waiting / assertions

    def wait_for_message(
        self,
        to: str | None = None,
        body_contains: str | None = None,
        timeout: float = WAIT_CEILING,
        predicate: Callable[[FakeMessage], bool] | None = None,
    ) -> FakeMessage:
        """The oldest matching message not returned by an earlier wait; raise AssertionError on timeout."""

        def match(m: FakeMessage) -> bool:
            return (
                (to is None or m.to == to)
                and (body_contains is None or body_contains in m.body)
                and (predicate is None or predicate(m))
            )

        found = self._wait(self.messages, match, timeout)
        if found is None:
            raise AssertionError(
                f"no SMS to={to!r} body~{body_contains!r} within {timeout}s; "
                f"got {[(m.to, m.body) for m in self.messages]}"
            )
        return found

    def wait_for_call(
        self,
        to: str | None = None,
        timeout: float = WAIT_CEILING,
        predicate: Callable[[FakeCall], bool] | None = None,
    ) -> FakeCall:
        """The oldest matching REST-created call not returned by an earlier wait."""

        def match(c: FakeCall) -> bool:
            return c.direction == "outbound-api" and (to is None or c.to == to) and (predicate is None or predicate(c))

        found = self._wait(self.calls, match, timeout)
        if found is None:
            raise AssertionError(f"no call to={to!r} within {timeout}s; got {[c.to for c in self.calls]}")
        return found

    def _wait(self, items: list[Any], match: Callable[[Any], bool], timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for item in items:
                    if item.sid not in self._claimed and match(item):
                        self._claimed.add(item.sid)
                        return item
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def assert_nothing_unexpected(self) -> None:
        """Fail if any SMS or outbound call was sent that no wait_for_* call accounted for."""
        with self._cond:
            stray = [f"SMS to {m.to}: {m.body!r}" for m in self.messages if m.sid not in self._claimed]
            stray += [
                f"call to {c.to}" for c in self.calls if c.direction == "outbound-api" and c.sid not in self._claimed
            ]
        if stray:
            raise AssertionError("unexpected Twilio traffic: " + "; ".join(stray))

    def get_message(self, sid: str) -> FakeMessage:
        with self._cond:
            for m in self.messages:
                if m.sid == sid:
                    return m
        raise KeyError(sid)

    def get_call(self, sid: str) -> FakeCall:
        with self._cond:
            for c in self.calls:
                if c.sid == sid:
                    return c
        raise KeyError(sid)

    # ------------------------------------------------------------------ signed delivery

    def sign(self, url: str, params: ParamsLike | None = None) -> str:
        return compute_signature(self.auth_token, url, params)

    def post_signed(self, url: str, params: ParamsLike | None = None, method: str = "POST") -> WebhookResponse:
        """Send a Twilio-signed webhook to the app, over HTTP or into an attached Flask app.

        For GET, Twilio puts the parameters in the query string and signs the full URL alone.
        """
        method = method.upper()
        pairs = _pairs(params)
        if method == "GET":
            if pairs:
                url = url + ("&" if "?" in url else "?") + urlencode(pairs)
            pairs = []
        signature = self.sign(url, pairs)
        if self.tamper_signatures:
            signature = signature[::-1]
        headers = {
            "X-Twilio-Signature": signature,
            "User-Agent": "TwilioProxy/1.1",
            "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
        }
        if method == "POST":
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        transport: Transport = next((a for a in self._apps if a.handles(url)), self._http)
        resp = transport.send(method, url, pairs, headers)
        with self._cond:
            self.sent.append((method, url, pairs, resp))
        return resp

    def deliver(self, callback: PreparedCallback) -> WebhookResponse:
        return self.post_signed(callback.url, callback.params, callback.method)

    # ------------------------------------------------------------------ SMS callbacks

    def prepare_message_status(
        self, sid: str, status: str, error_code: int | None = None, url: str | None = None
    ) -> PreparedCallback:
        msg = self.get_message(sid)
        target = url or msg.status_callback
        if not target:
            raise ValueError(f"message {sid} has no StatusCallback and no url was given")
        params = [
            ("AccountSid", self.account_sid),
            ("ApiVersion", API_VERSION),
            ("MessageSid", sid),
            ("SmsSid", sid),
            ("MessageStatus", status),
            ("SmsStatus", status),
            ("From", msg.from_),
            ("To", msg.to),
        ]
        if error_code is not None:
            params.append(("ErrorCode", str(error_code)))
        return PreparedCallback(target, params)

    def message_status(
        self, sid: str, status: str, error_code: int | None = None, url: str | None = None
    ) -> WebhookResponse | None:
        """POST the message's StatusCallback; any order and repeats are allowed on purpose.

        None (nothing sent) when the message had no StatusCallback and no ``url`` is given,
        as Twilio then sends nothing either.
        """
        msg = self.get_message(sid)
        msg.status = status
        if error_code is not None:
            msg.error_code = error_code
        if not (url or msg.status_callback):
            return None
        return self.deliver(self.prepare_message_status(sid, status, error_code, url))

    def inbound_sms(
        self,
        app_url: str,
        from_: str,
        to: str,
        body: str,
        *,
        path: str = "/twilio/sms",
        message_sid: str | None = None,
        extra: ParamsLike | None = None,
    ) -> WebhookResponse:
        """An SMS arriving at one of our numbers. ``app_url`` is the base URL or the full webhook URL."""
        url = _webhook_url(app_url, path)
        sid = message_sid or new_sid("SM")
        params = [
            ("ToCountry", "HU"),
            ("ToState", ""),
            ("SmsMessageSid", sid),
            ("NumMedia", "0"),
            ("ToCity", ""),
            ("FromZip", ""),
            ("SmsSid", sid),
            ("FromState", ""),
            ("SmsStatus", "received"),
            ("FromCity", ""),
            ("Body", body),
            ("FromCountry", "HU"),
            ("To", to),
            ("ToZip", ""),
            ("NumSegments", "1"),
            ("MessageSid", sid),
            ("AccountSid", self.account_sid),
            ("From", from_),
            ("ApiVersion", API_VERSION),
        ]
        params += _pairs(extra)
        return self.post_signed(url, params)

    # ------------------------------------------------------------------ call callbacks

    def _call_params(self, call: FakeCall, status: str) -> list[tuple[str, str]]:
        return [
            ("AccountSid", self.account_sid),
            ("ApiVersion", API_VERSION),
            ("CallSid", call.sid),
            ("CallStatus", status),
            ("Direction", call.direction),
            ("From", call.from_),
            ("To", call.to),
            ("Caller", call.from_),
            ("Called", call.to),
            ("FromCountry", "HU"),
            ("ToCountry", "HU"),
            ("CallerCountry", "HU"),
            ("CalledCountry", "HU"),
        ]

    def prepare_call_status(
        self,
        sid: str,
        status: str,
        *,
        answered_by: str | None = None,
        duration: int | None = None,
        sequence_number: int | None = None,
        url: str | None = None,
        force: bool = False,
    ) -> PreparedCallback | None:
        """Build a call status callback; None when Twilio would not send it.

        Twilio only sends events the call subscribed to (``StatusCallbackEvent``; default
        ``completed`` only); ``force=True`` sends anyway. ``SequenceNumber`` counts up per call
        from 0 unless given, so tests can build several and deliver them out of order.
        """
        call = self.get_call(sid)
        target = url or call.status_callback
        if not target:
            raise ValueError(f"call {sid} has no StatusCallback and no url was given")
        event = _EVENT_FOR_STATUS.get(status)
        if event is None:
            raise ValueError(f"unknown call status {status!r}")
        if not force and event not in call.status_callback_events:
            return None
        with self._cond:
            seq = call.sequence if sequence_number is None else sequence_number
            call.sequence = max(call.sequence, seq + 1)
        params = self._call_params(call, status)
        params += [
            ("CallbackSource", "call-progress-events"),
            ("Timestamp", _rfc2822_now()),
            ("SequenceNumber", str(seq)),
        ]
        answered = answered_by or (call.answered_by if status == "in-progress" else None)
        if answered:
            params.append(("AnsweredBy", answered))
        if event == "completed":
            if duration is None:
                duration = int(time.monotonic() - call.started) if status == "completed" else 0
            params += [("CallDuration", str(duration)), ("Duration", str(math.ceil(duration / 60)))]
        return PreparedCallback(target, params, call.status_callback_method)

    def call_status(
        self,
        sid: str,
        status: str,
        answered_by: str | None = None,
        *,
        duration: int | None = None,
        sequence_number: int | None = None,
        url: str | None = None,
        force: bool = False,
    ) -> WebhookResponse | None:
        """POST a call status callback.

        None (nothing sent) if the call has no StatusCallback or did not subscribe to the event.
        """
        call = self.get_call(sid)
        call.status = status
        self.held_calls.discard(sid)  # placed now
        if answered_by:
            call.answered_by = answered_by
        if not (url or call.status_callback):
            return None
        cb = self.prepare_call_status(
            sid,
            status,
            answered_by=answered_by,
            duration=duration,
            sequence_number=sequence_number,
            url=url,
            force=force,
        )
        return None if cb is None else self.deliver(cb)

    def ring(self, sid: str) -> None:
        """initiated then ringing, for the events the call subscribed to."""
        self.call_status(sid, "initiated")
        self.call_status(sid, "ringing")

    def no_answer(self, sid: str) -> WebhookResponse | None:
        return self.call_status(sid, "no-answer", duration=0)

    def busy(self, sid: str) -> WebhookResponse | None:
        return self.call_status(sid, "busy", duration=0)

    def fail_call(self, sid: str) -> WebhookResponse | None:
        return self.call_status(sid, "failed", duration=0)

    def answer_call(self, sid: str, answered_by: str | None = "human") -> CallSession:
        """Answer a REST-created call: 'answered' status callback, then run its Url or Twiml."""
        call = self.get_call(sid)
        call.answered_by = answered_by
        self.call_status(sid, "in-progress", answered_by)
        extra = [("AnsweredBy", answered_by)] if answered_by else []
        session = CallSession(self, call, base_extra=extra)
        if call.url:
            session._fetch_and_run(call.url, call.method)
        elif call.twiml is not None:
            session._run_document(call.twiml, None)
        else:
            raise TwilioCallbackError(f"call {sid} has neither Url nor Twiml")
        return session

    def start_inbound_call(
        self,
        app_base_url: str,
        from_: str,
        to: str,
        *,
        path: str = "/twilio/voice",
        call_sid: str | None = None,
        status_callback: str | None = None,
        status_callback_events: Sequence[str] = ("completed",),
        extra: ParamsLike | None = None,
    ) -> CallSession:
        """A caller dials one of our numbers: POST the voice webhook and follow its TwiML.

        ``status_callback`` stands in for the number's configured status callback URL.
        """
        call = FakeCall(
            sid=call_sid or new_sid("CA"),
            to=to,
            from_=from_,
            direction="inbound",
            url=_webhook_url(app_base_url, path),
            status_callback=status_callback,
            status_callback_events=list(status_callback_events),
            status="ringing",
        )
        with self._cond:
            self.calls.append(call)
            self._claimed.add(call.sid)  # inbound calls are test-made, never "unexpected"
        session = CallSession(self, call, base_extra=_pairs(extra))
        session._fetch_and_run(call.url or "", "POST", status="ringing")
        if call.status == "ringing":
            call.status = "in-progress"  # answered by the TwiML (what GET Calls/{sid} reports from now on)
        return session

    def add_inbound_call(self, from_: str, to: str, *, call_sid: str | None = None,
                         status: str = "in-progress") -> FakeCall:
        """A call to one of our numbers that Twilio knows about, without requesting any webhook: for tests
        that drive the app's webhooks themselves and then ask the REST API about the call."""
        call = FakeCall(sid=call_sid or new_sid("CA"), to=to, from_=from_, direction="inbound", status=status)
        with self._cond:
            self.calls.append(call)
            self._claimed.add(call.sid)
        return call

    # ------------------------------------------------------------------ recordings

    def add_recording(
        self,
        call_sid: str,
        duration: int = 5,
        recording_sid: str | None = None,
        channels: int = 1,
        *,
        source: str = "StartCallRecordingAPI",
        status: str = "completed",
    ) -> str:
        """Register a recording the fake will serve (and list); returns its RecordingUrl (no extension).

        On its own this is a recording whose status callback never reached the app (it was down)."""
        sid = recording_sid or new_sid("RE")
        with self._cond:
            self.recordings[sid] = {
                "sid": sid,
                "call_sid": call_sid,
                "duration": duration,
                "channels": channels,
                "source": source,
                "status": status,
                "date_created": _rfc2822_now(),
            }
        return self.recording_url(sid)

    def recording_url(self, recording_sid: str) -> str:
        return f"{self.account_url}/Recordings/{recording_sid}"

    def recording_completed(
        self,
        call_sid: str,
        status_callback_url: str,
        recording_sid: str | None = None,
        duration: int = 5,
        *,
        channels: int = 2,
        source: str = "StartCallRecording",
        status: str = "completed",
        track: str = "both",
        error_code: int | None = None,
    ) -> WebhookResponse:
        """POST a recording status callback whose RecordingUrl is served by this fake."""
        url = self.add_recording(call_sid, duration, recording_sid, channels, source=source, status=status)
        sid = url.rsplit("/", 1)[1]
        params = [
            ("AccountSid", self.account_sid),
            ("CallSid", call_sid),
            ("RecordingSid", sid),
            ("RecordingUrl", url),
            ("RecordingStatus", status),
            ("RecordingDuration", str(duration)),
            ("RecordingChannels", str(channels)),
            ("RecordingStartTime", _rfc2822_now()),
            ("RecordingSource", source),
            ("RecordingTrack", track),
        ]
        if error_code is not None:
            params.append(("ErrorCode", str(error_code)))
        return self.post_signed(status_callback_url, params)

    def queue_sid(self, name: str) -> str:
        with self._cond:
            return self._queue_sids.setdefault(name, new_sid("QU"))

    # ------------------------------------------------------------------ REST server

    def _build_app(self) -> Flask:
        app = Flask("fake_twilio")
        prefix = f"/{API_VERSION}/Accounts/<account>"

        @app.before_request
        def _gate() -> Response | None:
            rec = RecordedRequest(
                request.method,
                request.full_path.rstrip("?"),
                {k: request.form.getlist(k) for k in request.form},
                (request.authorization.username or "", request.authorization.password or "")
                if request.authorization
                else None,
            )
            request.environ["fake_twilio.record"] = rec
            with self._cond:
                self.requests.append(rec)
            is_media = "/Recordings/" in request.path and not request.path.endswith(".json")
            if not is_media or self.require_recording_auth:
                auth = request.authorization
                if auth is None or auth.username != self.account_sid or auth.password != self.auth_token:
                    return _error(401, 20003, "Authenticate")
            if not request.path.startswith(f"/{API_VERSION}/Accounts/{self.account_sid}/"):
                return _error(404, 20404, "The requested resource was not found")
            failure = self._take_failure(request.method, request.path)
            if failure is not None:
                resp = _error(
                    failure.status,
                    failure.code or (20429 if failure.status == 429 else 20500),
                    failure.message or _REASONS.get(failure.status, "Error"),
                )
                if failure.retry_after is not None:
                    resp.headers["Retry-After"] = str(failure.retry_after)
                return resp
            return None

        @app.after_request
        def _note_status(resp: Response) -> Response:
            rec = request.environ.get("fake_twilio.record")
            if rec is not None:
                rec.status = resp.status_code
            return resp

        @app.post(prefix + "/Messages.json")
        def create_message(account: str) -> Response:
            form = request.form
            to, from_ = form.get("To", ""), form.get("From") or form.get("MessagingServiceSid", "")
            body = form.get("Body", "")
            if not to:
                return _error(400, 21604, "A 'To' phone number is required.")
            if not from_:
                return _error(400, 21603, "A 'From' phone number is required.")
            if not body and not form.get("MediaUrl"):
                return _error(400, 21602, "Message body is required.")
            rejected = self._rejection(to)
            if rejected is not None:
                return rejected
            msg = FakeMessage(
                sid=new_sid("SM"),
                to=to,
                from_=from_,
                body=body,
                status_callback=form.get("StatusCallback"),
                params={k: form.getlist(k) for k in form},
            )
            with self._cond:
                self.messages.append(msg)
                self._cond.notify_all()
            if self.accept_delay:
                time.sleep(self.accept_delay)
            return _json(201, self._message_json(msg))

        @app.get(prefix + "/Messages/<sid>.json")
        def fetch_message(account: str, sid: str) -> Response:
            try:
                return _json(200, self._message_json(self.get_message(sid)))
            except KeyError:
                return _error(404, 20404, f"The requested resource /Messages/{sid}.json was not found")

        @app.get(prefix + "/Messages.json")
        def list_messages(account: str) -> Response:
            # Filters Hotline uses to reconcile after a crash: To (and From); one page, newest first.
            with self._cond:
                found = [m for m in reversed(self.messages) if _matches(m.to, m.from_)]
            return _json(200, _page("messages", [self._message_json(m) for m in found]))

        @app.get(prefix + "/Calls.json")
        def list_calls(account: str) -> Response:
            with self._cond:
                found = [c for c in reversed(self.calls) if _matches(c.to, c.from_)]
            return _json(200, _page("calls", [self._call_json(c) for c in found]))

        @app.post(prefix + "/Calls.json")
        def create_call(account: str) -> Response:
            form = request.form
            to, from_ = form.get("To", ""), form.get("From", "")
            if not to:
                return _error(400, 21201, "No 'To' number is specified")
            if not from_:
                return _error(400, 21213, "No 'From' number is specified")
            if not form.get("Url") and not form.get("Twiml") and not form.get("ApplicationSid"):
                return _error(400, 21205, "Either Url, Twiml or ApplicationSid is required")
            rejected = self._rejection(to)
            if rejected is not None:
                return rejected
            events = " ".join(form.getlist("StatusCallbackEvent")).split()
            call = FakeCall(
                sid=new_sid("CA"),
                to=to,
                from_=from_,
                direction="outbound-api",
                url=form.get("Url"),
                method=form.get("Method", "POST").upper(),
                twiml=form.get("Twiml"),
                status_callback=form.get("StatusCallback"),
                status_callback_method=form.get("StatusCallbackMethod", "POST").upper(),
                status_callback_events=events or ["completed"],
                machine_detection=form.get("MachineDetection"),
                timeout=int(form["Timeout"]) if form.get("Timeout") else None,
                fallback_url=form.get("FallbackUrl"),
                params={k: form.getlist(k) for k in form},
            )
            with self._cond:
                self.calls.append(call)
                if self.hold_calls_queued:
                    self.held_calls.add(call.sid)
                self._cond.notify_all()
            if self.accept_delay:
                time.sleep(self.accept_delay)
            return _json(201, self._call_json(call))

        @app.get(prefix + "/Calls/<sid>.json")
        def fetch_call(account: str, sid: str) -> Response:
            try:
                return _json(200, self._call_json(self.get_call(sid)))
            except KeyError:
                return _error(404, 20404, f"The requested resource /Calls/{sid}.json was not found")

        @app.get(prefix + "/Calls/<sid>/Events.json")
        def list_call_events(account: str, sid: str) -> Response:
            # The requests Twilio made to the app for this call (Call Events resource), newest first.
            try:
                call = self.get_call(sid)
            except KeyError:
                return _error(404, 20404, f"The requested resource /Calls/{sid}/Events.json was not found")
            return _json(200, _page("events", list(reversed(self._call_events(call)))))

        @app.post(prefix + "/Calls/<sid>.json")
        def update_call(account: str, sid: str) -> Response:
            # Hotline may cancel a page that is no longer needed (Status=canceled/completed).
            try:
                call = self.get_call(sid)
            except KeyError:
                return _error(404, 20404, f"The requested resource /Calls/{sid}.json was not found")
            with self._cond:
                for key in request.form:
                    call.params.setdefault("Update." + key, []).extend(request.form.getlist(key))
                if request.form.get("Status"):
                    call.status = request.form["Status"]
                if request.form.get("Url"):
                    call.url = request.form["Url"]
                if request.form.get("Twiml"):
                    call.twiml = request.form["Twiml"]
                self._cond.notify_all()
            return _json(200, self._call_json(call))

        @app.get(prefix + "/Recordings.json")
        def list_recordings(account: str) -> Response:
            # Filters of the list resource: DateCreated> / DateCreated< (ISO 8601) and CallSid; newest first.
            after, before = request.args.get("DateCreated>"), request.args.get("DateCreated<")
            call_sid = request.args.get("CallSid")
            with self._cond:
                found = list(self.recordings.values())
            items = []
            for rec in sorted(found, key=lambda r: email.utils.parsedate_to_datetime(r["date_created"]), reverse=True):
                created = email.utils.parsedate_to_datetime(rec["date_created"])
                if after and created < _parse_iso(after):
                    continue
                if before and created >= _parse_iso(before):
                    continue
                if call_sid and rec["call_sid"] != call_sid:
                    continue
                items.append(self._recording_json(rec))
            return _json(200, _page("recordings", items))

        @app.get(prefix + "/Recordings/<sid>")
        def fetch_recording(account: str, sid: str) -> Response:
            stem, _, ext = sid.partition(".")
            rec = self.recordings.get(stem)
            if rec is None:
                return _error(404, 20404, f"The requested resource /Recordings/{sid} was not found")
            if ext == "json":
                return _json(200, self._recording_json(rec))
            with self._cond:
                self.recording_fetches[stem] = self.recording_fetches.get(stem, 0) + 1
            if ext == "mp3":
                return Response(make_mp3(), 200, mimetype="audio/mpeg")
            if ext in ("", "wav"):
                return Response(make_wav(rec["duration"]), 200, mimetype="audio/x-wav")
            return _error(404, 20404, f"Unsupported media type .{ext}")

        @app.errorhandler(404)
        def not_found(_e: Exception) -> Response:
            return _error(404, 20404, f"The requested resource {request.path} was not found")

        @app.errorhandler(405)
        def not_allowed(_e: Exception) -> Response:
            return _error(405, 20004, "Method not allowed")

        return app

    def _recording_json(self, rec: dict[str, Any]) -> dict[str, Any]:
        return {
            "sid": rec["sid"],
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "call_sid": rec["call_sid"],
            "conference_sid": None,
            "duration": str(rec["duration"]),
            "channels": rec["channels"],
            "source": rec.get("source", "StartCallRecordingAPI"),
            "status": rec.get("status", "completed"),
            "date_created": rec["date_created"],
            "date_updated": rec["date_created"],
            "start_time": rec["date_created"],
            "price": None,
            "price_unit": "USD",
            "error_code": None,
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Recordings/{rec['sid']}.json",
        }

    def _call_events(self, call: FakeCall) -> list[dict[str, Any]]:
        """Twilio requests the 'initiated' status callback as it places the call, so that request is
        listed even though the fake only POSTs when the test drives the call; a call held in the
        queue (``hold_calls_queued``) has requested nothing yet."""
        events: list[dict[str, Any]] = []
        if call.sid in self.held_calls:
            return events
        if call.status_callback and "initiated" in call.status_callback_events:
            events.append({"request": {"method": call.status_callback_method, "url": call.status_callback,
                                       "parameters": {"CallSid": call.sid, "CallStatus": "initiated"}},
                           "response": {"response_code": 200}})
        with self._cond:
            sent = list(self.sent)
        for method, url, params, resp in sent:
            if ("CallSid", call.sid) in params:
                events.append({"request": {"method": method, "url": url, "parameters": dict(params)},
                               "response": {"response_code": resp.status_code}})
        return events

    def _take_failure(self, method: str, path: str) -> _Failure | None:
        with self._cond:
            for rule in self._failures:
                if rule.method and rule.method.upper() != method:
                    continue
                if rule.path_contains and rule.path_contains not in path:
                    continue
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self._failures.remove(rule)
                return rule
        return None

    def _rejection(self, to: str) -> Response | None:
        if to in self._rejected:
            code, message, status = self._rejected[to]
            return _error(status, code, message)
        if not _is_valid_address(to):
            return _error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        return None

    def _message_json(self, m: FakeMessage) -> dict[str, Any]:
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{m.sid}.json"
        return {
            "sid": m.sid,
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": m.body,
            "date_created": m.date_created,
            "date_updated": _rfc2822_now(),
            "date_sent": None,
            "direction": "outbound-api",
            "error_code": m.error_code,
            "error_message": None,
            "from": m.from_,
            "to": m.to,
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "status": m.status,
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
            "uri": uri,
        }

    def _call_json(self, c: FakeCall) -> dict[str, Any]:
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{c.sid}.json"
        return {
            "sid": c.sid,
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "to": c.to,
            "to_formatted": c.to,
            "from": c.from_,
            "from_formatted": c.from_,
            "status": c.status,
            "direction": c.direction,
            "answered_by": c.answered_by,
            "annotation": None,
            "caller_name": None,
            "date_created": c.date_created,
            "date_updated": _rfc2822_now(),
            "start_time": None,
            "end_time": None,
            "duration": None,
            "forwarded_from": None,
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": None,
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "trunk_sid": None,
            "subresource_uris": {"recordings": uri.replace(".json", "/Recordings.json")},
            "uri": uri,
        }


_REASONS = {429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


def _json(status: int, body: Mapping[str, Any]) -> Response:
    return Response(json.dumps(body), status, mimetype="application/json")


def _error(status: int, code: int, message: str) -> Response:
    return _json(
        status,
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
    )


def _webhook_url(app_url: str, path: str) -> str:
    parts = urlsplit(app_url)
    if parts.path in ("", "/") and not parts.query:
        return app_url.rstrip("/") + path
    return app_url


class RedirectingHttpClient(TwilioHttpClient):
    """TwilioHttpClient that swaps scheme and host of every request for ``base_url``."""

    def __init__(self, base_url: str, timeout: float | None = None) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")
        if self.session is not None:
            self.session.trust_env = False  # loopback traffic must not go through a proxy

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> TwilioResponse:
        parts = urlsplit(url)
        target = self.base_url + parts.path + ("?" + parts.query if parts.query else "")
        return super().request(method, target, *args, **kwargs)


# --------------------------------------------------------------------------- call driver


@dataclass
class Heard:
    """Something the caller heard: Say text, a Play URL, a Pause, or a Dial target."""

    kind: str  # "say" | "play" | "pause" | "dial" | "hold"
    text: str
    language: str | None = None
    voice: str | None = None
    attrs: dict[str, str] = field(default_factory=dict)


_AUDIBLE = {"Say", "Play", "Pause"}
_MAX_DOCUMENTS = 100


class CallSession:
    """One call, following the app's TwiML as Twilio would, one test command at a time.

    After each command the session stops at a verb that needs the test (``state`` is
    ``"gather"``, ``"record"``, ``"enqueue"`` or ``"dial"``) or the call has ended
    (``state == "ended"``). Everything audible is appended to ``heard``.
    """

    def __init__(self, fake: FakeTwilio, call: FakeCall, base_extra: Sequence[tuple[str, str]] = ()) -> None:
        self.fake = fake
        self.call = call
        self.base_extra = list(base_extra)
        self.heard: list[Heard] = []
        self.documents: list[tuple[str | None, str]] = []  # (url, TwiML text) in order
        self.started: list[ET.Element] = []  # <Start> children, e.g. <Recording>
        self.state = "running"
        self.end_reason: str | None = None
        self.doc_url: str | None = None
        self.waiting: ET.Element | None = None
        self._rest: list[ET.Element] = []
        self._completed_sent = False
        self._fetched_url: str | None = None
        self._queue_time = 0
        self._doc_count = 0

    # ------------------------------------------------------------------ inspection

    @property
    def sid(self) -> str:
        return self.call.sid

    @property
    def ended(self) -> bool:
        return self.state == "ended"

    @property
    def said(self) -> list[str]:
        return [h.text for h in self.heard if h.kind == "say"]

    @property
    def transcript(self) -> str:
        return " ".join(h.text for h in self.heard if h.kind in ("say", "play"))

    def heard_since(self, index: int) -> list[Heard]:
        return self.heard[index:]

    # ------------------------------------------------------------------ test commands

    def press(self, digits: str) -> CallSession:
        """Key in ``digits`` at the pending <Gather>, honouring numDigits and finishOnKey."""
        gather = self._expect("gather")
        finish_on = gather.get("finishOnKey", "#")
        num_digits = int(gather.get("numDigits", "0") or 0)
        collected, finished = "", ""
        for ch in digits:
            if finish_on and ch in finish_on:
                finished = ch
                break
            collected += ch
            if num_digits and len(collected) >= num_digits:
                break
        if not collected:
            return self.gather_timeout()
        return self._post_action(gather, [("Digits", collected), ("FinishedOnKey", finished)])

    def speak(self, text: str, confidence: float = 0.9) -> CallSession:
        """Answer a speech <Gather> with ``text``."""
        gather = self._expect("gather")
        if "speech" not in gather.get("input", "dtmf"):
            raise TwilioCallbackError("<Gather> does not accept speech input")
        return self._post_action(gather, [("SpeechResult", text), ("Confidence", f"{confidence:.2f}")])

    def gather_timeout(self) -> CallSession:
        """No input: post the action only with actionOnEmptyResult, else run the next verbs."""
        gather = self._expect("gather")
        if gather.get("actionOnEmptyResult", "false").lower() == "true":
            return self._post_action(gather, [])
        return self._continue()

    def record(self, duration: int = 5, recording_url: str | None = None, digits: str = "hangup") -> CallSession:
        """Finish the pending <Record>. ``duration=0`` is an empty recording: no action request."""
        rec = self._expect("record")
        if duration <= 0:
            return self._continue()
        url = recording_url or self.fake.add_recording(self.sid, duration)
        sid = url.rstrip("/").rsplit("/", 1)[1].split(".")[0]
        return self._post_action(
            rec,
            [
                ("RecordingUrl", url),
                ("RecordingSid", sid),
                ("RecordingDuration", str(duration)),
                ("Digits", digits),
            ],
        )

    def queue_wait(
        self,
        queue_time: int = 0,
        position: int = 1,
        queue_size: int | None = None,
        avg_queue_time: int | None = None,
    ) -> CallSession:
        """One turn of the <Enqueue> waitUrl loop, at ``queue_time`` seconds in the queue."""
        enqueue = self._expect("enqueue")
        wait_url = enqueue.get("waitUrl")
        if not wait_url:
            # Twilio's default hold music has no request for the app to answer.
            self.heard.append(Heard("hold", "default hold music"))
            return self
        name = (enqueue.text or "").strip()
        params = [
            ("QueueSid", self.fake.queue_sid(name)),
            ("QueuePosition", str(position)),
            ("QueueTime", str(queue_time)),
            ("AvgQueueTime", str(queue_time if avg_queue_time is None else avg_queue_time)),
            ("CurrentQueueSize", str(queue_size if queue_size is not None else position)),
            ("MaxQueueSize", enqueue.get("maxQueueSize", "100")),
        ]
        self._queue_time = queue_time
        url = self._resolve(wait_url)
        root = self._fetch(url, enqueue.get("waitUrlMethod", "POST"), params)
        for verb in list(root):
            tag = verb.tag
            if tag in _AUDIBLE:
                self._hear(verb)
            elif tag == "Leave":
                return self.queue_result("leave", queue_time)
            elif tag == "Hangup":
                return self._end("hangup")
            elif tag == "Redirect":
                # Redirecting out of the wait loop takes the caller out of the queue.
                self.waiting, self._rest = None, []
                return self._fetch_and_run(self._resolve(verb.text or ""), verb.get("method", "POST"))
            else:
                raise TwilioCallbackError(f"<{tag}> is not supported in waitUrl TwiML by the fake")
        return self

    def queue_result(self, result: str, queue_time: int | None = None) -> CallSession:
        """The caller leaves the queue with ``QueueResult=result`` (leave, bridged, hangup, ...)."""
        enqueue = self._expect("enqueue")
        name = (enqueue.text or "").strip()
        qt = queue_time if queue_time is not None else self._queue_time
        params = [
            ("QueueResult", result),
            ("QueueSid", self.fake.queue_sid(name)),
            ("QueueTime", str(qt)),
        ]
        if enqueue.get("action"):
            return self._post_action(enqueue, params)
        return self._continue()

    def dial_result(
        self, status: str = "completed", duration: int = 0, dial_call_sid: str | None = None
    ) -> CallSession:
        """The <Dial> ended with DialCallStatus ``status``; post its action or fall through."""
        dial = self._expect("dial")
        params = [
            ("DialCallStatus", status),
            ("DialCallSid", dial_call_sid or new_sid("CA")),
            ("DialCallDuration", str(duration)),
            ("DialBridged", "true" if status in ("completed", "answered") else "false"),
        ]
        if dial.get("action"):
            return self._post_action(dial, params)
        return self._continue()

    def hangup(self, duration: int | None = None) -> WebhookResponse | None:
        """The caller hangs up (or the call already ended): send the 'completed' status callback once.

        Hanging up while queued posts the <Enqueue> action with QueueResult=hangup first, as
        Twilio does; its TwiML is ignored.
        """
        if self.state == "enqueue" and self.waiting is not None and self.waiting.get("action"):
            self._post(
                self._resolve(self.waiting.get("action", "")),
                self.waiting.get("method", "POST"),
                [
                    ("QueueResult", "hangup"),
                    ("QueueSid", self.fake.queue_sid((self.waiting.text or "").strip())),
                    ("QueueTime", str(self._queue_time)),
                ],
            )
        if not self.ended:
            self._end("caller-hangup")
        if self._completed_sent:
            return None
        self._completed_sent = True
        self.call.status = "completed"
        if not self.call.status_callback:
            return None
        return self.fake.call_status(self.sid, "completed", duration=duration)

    # ------------------------------------------------------------------ engine

    def _expect(self, state: str) -> ET.Element:
        if self.state != state or self.waiting is None:
            raise TwilioCallbackError(
                f"call is {self.state!r}, not waiting at <{state}>; heard so far: {self.transcript!r}"
            )
        return self.waiting

    def _base_params(self, status: str = "in-progress") -> list[tuple[str, str]]:
        return self.fake._call_params(self.call, status) + self.base_extra

    def _resolve(self, url: str) -> str:
        url = url.strip()
        if urlsplit(url).scheme:
            return url
        if self.doc_url is None:
            raise TwilioCallbackError(f"relative URL {url!r} in inline Twiml cannot be resolved (no document URL)")
        return urljoin(self.doc_url, url)

    def _post(
        self, url: str, method: str, extra: Sequence[tuple[str, str]], status: str = "in-progress"
    ) -> WebhookResponse:
        return self.fake.post_signed(url, self._base_params(status) + list(extra), method)

    def _fetch(
        self,
        url: str,
        method: str = "POST",
        extra: Sequence[tuple[str, str]] = (),
        status: str = "in-progress",
    ) -> ET.Element:
        self._doc_count += 1
        if self._doc_count > _MAX_DOCUMENTS:
            raise TwilioCallbackError(f"more than {_MAX_DOCUMENTS} TwiML documents: redirect loop?")
        resp = self._post(url, method.upper(), extra, status)
        problem = None
        if resp.status_code != 200:
            problem = f"HTTP {resp.status_code}"
            code = "11200"
        else:
            try:
                root = ET.fromstring(resp.text)
                if root.tag != "Response":
                    problem = f"root element <{root.tag}>"
            except ET.ParseError as exc:
                problem = f"invalid XML: {exc}"
            code = "12100"
        if problem is None:
            self.documents.append((url, resp.text))
            self._fetched_url = url
            return root
        # Twilio requests the fallback URL when the primary fails or returns bad TwiML.
        if self.call.fallback_url and url != self.call.fallback_url:
            return self._fetch(
                self.call.fallback_url,
                "POST",
                list(extra) + [("ErrorCode", code), ("ErrorUrl", url)],
                status,
            )
        raise TwilioCallbackError(f"{method} {url} -> {problem}: {resp.text[:500]!r}")

    def _fetch_and_run(self, url: str, method: str = "POST", status: str = "in-progress") -> CallSession:
        root = self._fetch(url, method, (), status)
        self.doc_url = self._fetched_url
        return self._run_verbs(list(root))

    def _run_document(self, twiml: str, url: str | None) -> CallSession:
        try:
            root = ET.fromstring(twiml)
        except ET.ParseError as exc:
            raise TwilioCallbackError(f"invalid inline Twiml: {exc}") from exc
        self.documents.append((url, twiml))
        self.doc_url = url
        return self._run_verbs(list(root))

    def _post_action(self, verb: ET.Element, extra: Sequence[tuple[str, str]]) -> CallSession:
        # A missing action means "the current document", as with Gather and Record.
        action = verb.get("action") or self.doc_url
        if not action:
            raise TwilioCallbackError(f"<{verb.tag}> has no action and no document URL")
        url = self._resolve(action)
        self.waiting, self._rest = None, []
        self.state = "running"
        root = self._fetch(url, verb.get("method", "POST"), extra)
        self.doc_url = self._fetched_url
        return self._run_verbs(list(root))

    def _continue(self) -> CallSession:
        rest, self._rest = self._rest, []
        self.waiting = None
        self.state = "running"
        return self._run_verbs(rest)

    def _wait_at(self, state: str, verb: ET.Element, rest: list[ET.Element]) -> CallSession:
        self.state, self.waiting, self._rest = state, verb, rest
        return self

    def _end(self, reason: str) -> CallSession:
        self.state, self.end_reason, self.waiting, self._rest = "ended", reason, None, []
        return self

    def _hear(self, verb: ET.Element) -> None:
        attrs = dict(verb.attrib)
        if verb.tag == "Say":
            self.heard.append(
                Heard("say", "".join(verb.itertext()).strip(), verb.get("language"), verb.get("voice"), attrs)
            )
        elif verb.tag == "Play":
            self.heard.append(Heard("play", (verb.text or "").strip(), attrs=attrs))
        else:
            self.heard.append(Heard("pause", verb.get("length", "1"), attrs=attrs))

    def _run_verbs(self, verbs: list[ET.Element]) -> CallSession:
        for i, verb in enumerate(verbs):
            rest = verbs[i + 1 :]
            tag = verb.tag
            if tag in _AUDIBLE:
                self._hear(verb)
            elif tag == "Gather":
                for child in verb:
                    if child.tag in _AUDIBLE:
                        self._hear(child)
                return self._wait_at("gather", verb, rest)
            elif tag == "Record":
                return self._wait_at("record", verb, rest)
            elif tag == "Enqueue":
                return self._wait_at("enqueue", verb, rest)
            elif tag == "Dial":
                targets = [(c.text or "").strip() for c in verb] or [(verb.text or "").strip()]
                nouns = [c.tag for c in verb] or ["Number"]
                attrs = dict(verb.attrib)
                attrs["nouns"] = " ".join(nouns)
                self.heard.append(Heard("dial", " ".join(targets), attrs=attrs))
                return self._wait_at("dial", verb, rest)
            elif tag == "Redirect":
                url = self._resolve(verb.text or "")
                return self._fetch_and_run(url, verb.get("method", "POST"))
            elif tag in ("Hangup", "Reject"):
                return self._end(tag.lower())
            elif tag == "Start":
                self.started.extend(list(verb))
            elif tag in ("Stop", "Sms", "Message"):
                continue  # no effect on the call flow the fake models
            elif tag == "Leave":
                raise TwilioCallbackError("<Leave> outside waitUrl TwiML")
            else:
                raise TwilioCallbackError(f"unsupported TwiML verb <{tag}>")
        # Running off the end of the document hangs the call up.
        return self._end("end-of-twiml")


__all__ = [
    "API_VERSION",
    "CallSession",
    "FakeCall",
    "FakeMessage",
    "FakeTwilio",
    "FlaskTransport",
    "Heard",
    "HttpTransport",
    "PreparedCallback",
    "RecordedRequest",
    "RedirectingHttpClient",
    "Transport",
    "TwilioCallbackError",
    "WebhookResponse",
    "compute_signature",
    "make_mp3",
    "make_wav",
    "new_sid",
]


def _matches(to: str, from_: str) -> bool:
    want_to, want_from = request.args.get("To"), request.args.get("From")
    return (not want_to or want_to == to) and (not want_from or want_from == from_)


def _page(key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """A list resource page as the 2010-04-01 API returns it (a single page: no next page)."""
    return {key: items, "page": 0, "page_size": max(len(items), 50), "start": 0, "end": max(len(items) - 1, 0),
            "first_page_uri": request.full_path, "previous_page_uri": None, "next_page_uri": None,
            "uri": request.full_path}
