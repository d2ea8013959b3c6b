"""X-Twilio-Signature checking for every Twilio webhook (403 when it does not match).

Twilio signs the URL it was configured with, so the URL is rebuilt from CALLCENTER_PUBLIC_URL
(what Twilio sees) rather than from the Host header (what a proxy in front of us forwards).
"""

from __future__ import annotations

import functools
import hmac
import logging
from collections.abc import Callable

from flask import Response, current_app, request
from twilio.request_validator import RequestValidator

from callcenter.db import deadline

log = logging.getLogger(__name__)

# Twilio waits 15 s for an answer and then gives up (no SMS reply, "an application error" on a call).
# Every webhook's database work must end well before, so that it can still answer: a stalled database
# otherwise held a round trip for the statement timeout plus one (16 s by default), or a reconnect.
WEBHOOK_SECONDS = 10.0


def public_request_url() -> str:
    base = current_app.config["SETTINGS"].public_url.rstrip("/")
    query = request.query_string.decode()
    return f"{base}{request.path}" + (f"?{query}" if query else "")


def signature_is_valid() -> bool:
    token = current_app.config["SETTINGS"].twilio_auth_token
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        return False
    params = request.form if request.method == "POST" else {}
    validator = RequestValidator(token)
    url = public_request_url()
    # Twilio signs the URL it called, which is normally ours exactly: one HMAC decides. Anything else
    # (the URL with or without a default port, a bodySHA256 query) gets the library's full check.
    if hmac.compare_digest(validator.compute_signature(url, params), signature):
        return True
    return validator.validate(url, params, signature)


def twilio_signed(view: Callable) -> Callable:
    @functools.wraps(view)
    def wrapper(*args, **kwargs):  # noqa: ANN202
        if not signature_is_valid():
            log.warning("rejected %s %s: X-Twilio-Signature missing or wrong (from %s)",
                        request.method, request.path, request.remote_addr)
            return Response("invalid Twilio signature", status=403, mimetype="text/plain")
        with deadline(WEBHOOK_SECONDS):  # a voice turn's shorter deadline nests inside
            return view(*args, **kwargs)

    return wrapper
