"""Signed Twilio webhooks carrying numbers no column can hold, or no number at all: 4xx or a normal
TwiML answer, never a 5xx."""

from __future__ import annotations

from fake_twilio import compute_signature

from callcenter.app import create_app

VALUES = ["99999999999999999999", "2147483648", "-1", "²", "١٢", "abc", "1e5", ""]
NUMBER_FIELDS = ["QueueTime", "RecordingDuration", "CallDuration", "SequenceNumber", "DialCallDuration", "Digits",
                 "QueueResult", "RecordingUrl", "CallStatus", "MessageStatus"]
QUERY = ["offer", "call", "n", "step", "seq"]


def _twilio_app(settings, engine):  # noqa: ANN001, ANN202
    """A test client whose webhooks are signed with "tw-token", and every Twilio POST route it has."""
    settings.twilio_auth_token = "tw-token"
    app = create_app(settings, engine)
    routes = sorted({r.rule for r in app.url_map.iter_rules()
                     if r.rule.startswith("/twilio/") and "POST" in (r.methods or ())})
    return app.test_client(), routes


def test_signed_webhooks_with_out_of_range_numbers_never_give_a_server_error(settings, engine, demo) -> None:  # noqa: ANN001
    client, routes = _twilio_app(settings, engine)
    assert len(routes) >= 10
    failures = []
    for route in routes:
        for value in VALUES:
            query = "&".join(f"{q}={value}" for q in QUERY)
            path = f"{route}?{query}"
            params = {"CallSid": "CA-fuzz", "From": "+3615550101", "To": "+3615550100", "AccountSid": "AC1",
                      "MessageSid": "SM-fuzz", "RecordingSid": "RE-fuzz", "Body": f"ACK {value}",
                      **{name: value for name in NUMBER_FIELDS}}
            signature = compute_signature("tw-token", f"{settings.public_url}{path}", params)
            try:
                status = client.post(path, data=params, headers={"X-Twilio-Signature": signature}).status_code
            except Exception as exc:  # the test client re-raises what would be a 500
                status = repr(exc)[:160]
            if not isinstance(status, int) or status >= 500 or status == 403:
                failures.append((route, value, status))
    assert failures == [], "\n".join(map(str, failures))


TEXTS = ["\x00", "a\x00b", "x" * 100_000, "%ED%A0%80", "\u202e", "🙂" * 500]
TEXT_FIELDS = ["CallSid", "MessageSid", "From", "To", "Body", "Digits", "SpeechResult", "CallStatus", "AnsweredBy",
               "ErrorCode", "RecordingSid", "RecordingUrl", "QueueResult"]


def test_signed_webhooks_with_hostile_text_never_give_a_server_error(settings, engine, demo) -> None:  # noqa: ANN001
    """NUL, 100 kB values, bytes that are no UTF-8 (sent percent-encoded as they are), in every text field."""
    from urllib.parse import quote

    client, routes = _twilio_app(settings, engine)
    failures, statuses = [], []
    for route in routes:
        for field in TEXT_FIELDS:
            for value in TEXTS:
                params = {"CallSid": "CA-fuzz", "From": "+3615550101", "To": "+3615550100", "AccountSid": "AC1",
                          "MessageSid": "SM-fuzz", "Body": "ACK 1", "CallStatus": "completed"}
                raw = value == "%ED%A0%80"
                # Werkzeug keeps the percent-encoding of bytes that are no UTF-8: the value Twilio signs.
                params[field] = value
                body = "&".join(f"{k}={value if raw and k == field else quote(v)}" for k, v in params.items())
                signature = compute_signature("tw-token", f"{settings.public_url}{route}", params)
                try:
                    r = client.post(route, data=body.encode(), headers={
                        "X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"})
                    status = r.status_code
                except Exception as exc:  # the test client re-raises what would be a 500
                    status = repr(exc)[:160]
                if not isinstance(status, int) or status >= 500:
                    failures.append((route, field, value[:20], status))
                statuses.append(status)
    assert statuses.count(403) == 0  # every request reached its handler
    assert failures == [], "\n".join(map(str, failures[:30]))
