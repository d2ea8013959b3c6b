"""Request bodies a fuzzer or an attacker sends to the API, on every route that reads one: JSON nested
deeper than the decoder can follow (RecursionError is no ValueError: it escaped Flask's "bad JSON"
handling as a 500), and bodies that are no JSON at all. Each is a 4xx JSON answer and nothing is stored."""

from __future__ import annotations

import pytest
from web_helpers import snapshot

WRITES = ["/api/v1/tickets", "/api/v1/tickets/{n}/notes", "/api/v1/tickets/{n}/time", "/api/v1/tickets/{n}/links",
          "/api/v1/tickets/{n}/approvals", "/api/v1/approvals/1/decision", "/api/v1/alerts", "/api/v1/alerts/1"]
DEEP = [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000]
NOT_JSON = [b"\xff\xfe\x00", b'{"subject": "\xed\xa0\x80"}', b"[1, 2", b""]


@pytest.mark.parametrize("body", DEEP + NOT_JSON, ids=lambda b: repr(b[:12]))
def test_a_body_the_decoder_cannot_read_is_a_4xx(client, demo, api_token, session, body: bytes) -> None:  # noqa: ANN001
    headers = {**api_token("admin"), "Content-Type": "application/json"}
    made = client.post("/api/v1/tickets", headers=headers, json={
        "subject": "Switch down", "category": "infrastructure", "company": "Budapest Demo Kft.",
        "reporter_email": "anna@budapest-demo.example"})
    assert made.status_code == 201, made.get_json()
    number = made.get_json()["number"]
    before = snapshot(session)
    for route in WRITES:
        for method in ("POST", "PATCH") if route.endswith("{n}") else ("POST",):
            r = client.open(route.replace("{n}", str(number)), method=method, data=body, headers=headers)
            assert 400 <= r.status_code < 500 and r.is_json, (route, r.status_code, r.get_data(as_text=True)[:200])
    r = client.patch(f"/api/v1/tickets/{number}", data=body, headers=headers)
    assert 400 <= r.status_code < 500 and r.is_json
    assert snapshot(session) == before
