"""Malformed values in every console query parameter and form field, and signed Twilio webhooks with
out-of-range numbers: a 4xx (or the page without that filter), never a 5xx, and nothing stored."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from web_helpers import snapshot

from callcenter import tickets as svc

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')

MALFORMED = ["²", "١٢", "-1", "0", "99999999999999999999", "2147483648", "abc", "1e5", "nan", " ", "%",
             "2026-13-45", "2026Q9", "\u0000", "x" * 5000, "[]", "null", "-0", "+1", "0x10", "2026-02-30"]
# A query parameter gets the kinds that broke pages before (each page reads only some of the names).
QUERY_VALUES = ["²", "-1", "99999999999999999999", "abc", "2026-13-45", "x" * 300]
# Bytes that are not UTF-8 at all (a lone surrogate's encoding, stray bytes), sent percent-encoded as they are.
RAW_QUERY_VALUES = ["%ED%A0%80", "%FF%FE", "%C0%AF"]

# Every query parameter a console page reads, and every field its forms post.
QUERY_PARAMS = ["company", "level", "category", "status", "q", "mine", "page", "asset", "channel", "state",
                "outcome", "caller", "since", "until", "recorded", "download", "weeks", "quarter", "kind", "next",
                "number", "limit"]
FORM_FIELDS = ["status", "note", "resolution", "minutes", "quick_phone_answer", "level", "reason", "staff_id",
               "body", "public", "other", "kind", "close", "summary", "approver_contact_id", "approver_staff_id",
               "decision", "evidence", "decided_by_contact_id", "channel", "subject", "description", "category",
               "priority", "company", "asset", "reporter_contact_id", "reporter_name", "reporter_email",
               "reporter_phone", "location", "lang", "next", "hold", "comment", "start", "end", "state", "number",
               "dismiss", "score", "greeting", "identification", "solution", "courtesy", "closing"]


def _login(client, name: str) -> str:  # noqa: ANN001
    token = TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
    r = client.post("/login", data={"login": name, "password": "demo", "csrf_token": token})
    assert r.status_code == 302
    return TOKEN.search(client.get("/", follow_redirects=True).get_data(as_text=True)).group(1)


def _routes(app, method: str) -> list[str]:  # noqa: ANN001
    """The console's URLs for `method`, with path ids filled in by existing rows."""
    found = []
    for rule in app.url_map.iter_rules():
        if method not in (rule.methods or ()) or rule.rule.startswith(("/api/", "/twilio/", "/static/")):
            continue
        if rule.endpoint in ("login.logout", "healthz"):
            continue
        url = re.sub(r"<int:number>", "{number}", rule.rule)
        url = re.sub(r"<(?:int:)?[a-z_]+>", "1", url)
        found.append(url)
    return sorted(set(found))


@pytest.fixture
def ticket(session, demo, now):  # noqa: ANN001, ANN201
    t = svc.create_ticket(session, svc.NewTicket(subject="Printer queue stuck", channel="phone", category="user",
                                                 reporter_contact_id=demo.anna.id), now=now)
    session.commit()
    return t.number


@pytest.mark.parametrize("user", ["admin", "anna@budapest-demo.example"])
def test_malformed_console_queries_never_give_a_server_error(app, client, ticket, user) -> None:  # noqa: ANN001
    _login(client, user)
    failures = []
    for url in _routes(app, "GET"):
        url = url.format(number=ticket)
        for name in QUERY_PARAMS:
            for value in [quote(v, safe="") for v in QUERY_VALUES] + RAW_QUERY_VALUES[:1]:
                try:
                    status = client.get(f"{url}?{name}={value}").status_code
                except Exception as exc:  # the test client re-raises what would be a 500
                    status = repr(exc)[:120]
                if not isinstance(status, int) or status >= 500:
                    failures.append((url, name, value[:20], status))
    assert failures == [], "\n".join(map(str, failures))


def test_malformed_console_forms_never_give_a_server_error(app, client, session, ticket) -> None:  # noqa: ANN001
    token = _login(client, "admin")
    before = snapshot(session)
    failures = []
    for url in _routes(app, "POST"):
        if url in ("/login", "/language"):
            continue
        url = url.format(number=ticket)
        for value in MALFORMED:
            form = {name: value for name in FORM_FIELDS}
            form["csrf_token"] = token
            try:
                status = client.post(url, data=form).status_code
            except Exception as exc:  # the test client re-raises what would be a 500
                status = repr(exc)[:120]
            if not isinstance(status, int) or status >= 500:
                failures.append((url, value[:20], status))
    assert failures == [], "\n".join(map(str, failures))
    after = snapshot(session)
    assert after["users"] == before["users"] and after["approvals"] == before["approvals"]
