"""Twilio REST: SMS and outbound voice calls, through the official client.

CALLCENTER_TWILIO_API_URL swaps the host of every request, so staging and the tests can point
the client at a local fake Twilio.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from ..config import Settings
from .base import PermanentError, SendResult, TemporaryError

DEFAULT_API = "https://api.twilio.com"


class RedirectingHttpClient(TwilioHttpClient):
    """Sends every request to another base URL (a local fake or a proxy), keeping path and query."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")
        if urlsplit(self.base_url).hostname in {"127.0.0.1", "localhost", "::1"}:
            self.session.trust_env = False  # loopback must not go through a proxy

    def request(self, method: str, url: str, *args: Any, **kwargs: Any):  # noqa: ANN201
        parts = urlsplit(url)
        target = self.base_url + parts.path + (f"?{parts.query}" if parts.query else "")
        return super().request(method, target, *args, **kwargs)


def make_client(settings: Settings) -> Client:
    http_client = None
    if settings.twilio_api_url and settings.twilio_api_url.rstrip("/") != DEFAULT_API:
        http_client = RedirectingHttpClient(settings.twilio_api_url)
    else:
        http_client = TwilioHttpClient(timeout=10.0)
    return Client(settings.twilio_account_sid, settings.twilio_auth_token, http_client=http_client)


# Twilio error codes that no retry can fix (invalid or unreachable number, blocked, opted out).
PERMANENT_CODES = {21211, 21214, 21217, 21401, 21407, 21408, 21421, 21601, 21602, 21603, 21604, 21610,
                   21612, 21614, 21215, 21216, 13223, 13224}


class TwilioProvider:
    name = "twilio"

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self.settings = settings
        self.client = client or make_client(settings)

    def _absolute(self, url: str | None) -> str | None:
        # Services store callback paths; the public base URL is known here, at send time.
        if url and url.startswith("/"):
            return self.settings.public_url.rstrip("/") + url
        return url

    def send(self, message: Any) -> SendResult:
        p = dict(message.payload)
        for name in ("url", "status_callback", "recording_status_callback"):
            p[name] = self._absolute(p.get(name))
        ref = getattr(message, "claim_ref", None)
        if ref:
            # Our claim reference rides on every URL Twilio will request for this message, so a status
            # callback, and reconciliation after a crash, can name the exact row (see outbox).
            for name in ("url", "status_callback"):
                p[name] = with_claim_ref(p.get(name), ref)
        try:
            if message.channel == "sms":
                kwargs = {"to": message.destination, "from_": p.get("from") or self.settings.twilio_from_number,
                          "body": p["body"]}
                if p.get("status_callback"):
                    kwargs["status_callback"] = p["status_callback"]
                if p.get("validity_period"):
                    kwargs["validity_period"] = int(p["validity_period"])
                sent = self.client.messages.create(**kwargs)
            elif message.channel == "voice":
                kwargs = {"to": message.destination, "from_": p.get("from") or self.settings.twilio_from_number,
                          "url": p["url"], "method": "POST"}
                if p.get("status_callback"):
                    kwargs["status_callback"] = p["status_callback"]
                    kwargs["status_callback_event"] = p.get("status_callback_events") or [
                        "initiated", "ringing", "answered", "completed"]
                    kwargs["status_callback_method"] = "POST"
                if p.get("machine_detection"):
                    kwargs["machine_detection"] = p["machine_detection"]
                if p.get("timeout"):
                    kwargs["timeout"] = int(p["timeout"])
                if p.get("record"):
                    kwargs["record"] = True
                    if p.get("recording_status_callback"):
                        kwargs["recording_status_callback"] = p["recording_status_callback"]
                sent = self.client.calls.create(**kwargs)
            elif message.channel == "callstatus":
                # Not a message: a look-up of a hotline call we may have stopped hearing about.
                found = self.client.calls(message.destination).fetch()
                return SendResult(ref=None, status=found.status, final=True)
            else:
                raise PermanentError(f"twilio cannot send {message.channel}")
        except TwilioRestException as exc:
            code = str(exc.code) if exc.code else None
            if exc.status in (429,) or exc.status >= 500:
                raise TemporaryError(f"Twilio {exc.status}: {exc.msg}", code) from exc
            if exc.code in PERMANENT_CODES or 400 <= exc.status < 500:
                raise PermanentError(f"Twilio {exc.status} ({exc.code}): {exc.msg}", code) from exc
            raise TemporaryError(f"Twilio {exc.status}: {exc.msg}", code) from exc
        except (OSError, ConnectionError) as exc:
            raise TemporaryError(f"cannot reach Twilio: {exc}") from exc
        return SendResult(ref=sent.sid, status=getattr(sent, "status", None))

    def reconcile(self, message: Any) -> list[SendResult]:
        """What Twilio has of this message, sent before our worker died: the exact call (found by our
        claim reference among the requests it made to us), or messages with its text. An empty list
        means Twilio never got it; TemporaryError means it cannot tell yet."""
        if message.channel == "callstatus":
            return []  # a look-up changes nothing at Twilio: just ask again
        p = message.payload
        sender = p.get("from") or self.settings.twilio_from_number
        since = message.claimed_at - timedelta(minutes=1)
        found: list[SendResult] = []
        # Twilio lists newest first. Read on until the claim's time, not a fixed number: in a page storm
        # the engineer's phone gets more than a page of messages a minute, and the one we look for is
        # further down (it was sent a second time when only the newest 50 were read).
        if message.channel == "sms":
            for m in _since(self.client.messages.stream(to=message.destination, from_=sender,
                                                        page_size=RECONCILE_PAGE), since):
                if m.body == p.get("body"):
                    found.append(SendResult(ref=m.sid, status=m.status))
            return list(reversed(found))  # oldest first
        if not message.claim_ref:
            return []
        marker = f"{CLAIM_PARAM}={message.claim_ref}"
        for c in _since(self.client.calls.stream(to=message.destination, from_=sender, page_size=RECONCILE_PAGE),
                        since):
            urls = [str((e.request or {}).get("url") or "") for e in self.client.calls(c.sid).events.list(limit=50)]
            if any(marker in url for url in urls):
                return [SendResult(ref=c.sid, status=c.status)]
            if not urls and c.status == "queued":
                # Twilio queues calls beyond the account's rate and requests nothing until it places
                # them: this one may be ours.
                raise TemporaryError(f"call {c.sid} to that number is still queued; cannot tell yet")
        return []


    def recent_recordings(self, since: datetime) -> list[ProviderRecording]:
        """Completed recordings Twilio made since `since`, for catching up on missed status callbacks."""
        base = (self.settings.twilio_api_url or DEFAULT_API).rstrip("/")
        found = []
        for r in self.client.recordings.list(date_created_after=since, limit=RECORDINGS_PAGE_LIMIT):
            if r.status != "completed" or not r.call_sid:
                continue
            media = base + (r.uri or "").removesuffix(".json")
            found.append(ProviderRecording(sid=r.sid, call_sid=r.call_sid, url=media, source=r.source or "",
                                           duration=int(r.duration) if str(r.duration or "").isdigit() else None))
        return found

    def call_details(self, sid: str) -> dict[str, Any]:
        """A call's numbers, times and status, for a call we only learn about afterwards."""
        c = self.client.calls(sid).fetch()
        return {"from": c._from, "to": c.to, "status": c.status, "start_time": c.start_time,
                "end_time": c.end_time, "duration": int(c.duration) if str(c.duration or "").isdigit() else None}


@dataclass(frozen=True)
class ProviderRecording:
    sid: str
    call_sid: str
    url: str            # media URL without extension, as in Twilio's RecordingUrl
    source: str         # RecordVerb (a voice message), StartCallRecordingAPI, DialVerb, ...
    duration: int | None


RECORDINGS_PAGE_LIMIT = 1000
RECONCILE_PAGE = 100
RECONCILE_LIMIT = 2000  # messages or calls to one number since a claim: far beyond any real page storm


def _since(items: Iterable[Any], since: datetime) -> Iterator[Any]:
    """Items of a newest-first Twilio list created at or after `since` (undated ones too)."""
    for index, item in enumerate(items):
        if index >= RECONCILE_LIMIT or (item.date_created is not None and item.date_created < since):
            return
        yield item
CLAIM_PARAM = "o"


def with_claim_ref(url: str | None, ref: str) -> str | None:
    if not url:
        return url
    return f"{url}{'&' if '?' in url else '?'}{CLAIM_PARAM}={ref}"
