"""Security headers on every response; no inline script or style for the CSP to forbid; Secure cookies."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests
from web_helpers import http, log_in, site  # noqa: F401 (fixtures)

TEMPLATES = Path(__file__).resolve().parents[2] / "callcenter" / "templates"


def _assert_headers(r: requests.Response) -> None:
    csp = r.headers.get("Content-Security-Policy", "")
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers.get("X-Frame-Options") == "DENY"
    assert r.headers.get("X-Content-Type-Options") == "nosniff"
    assert r.headers.get("Referrer-Policy") == "same-origin"


@pytest.mark.parametrize("method,path", [
    ("GET", "/login"), ("GET", "/console/queue"), ("GET", "/healthz"), ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/tickets"), ("GET", "/no/such/page"), ("POST", "/twilio/voice"), ("GET", "/static/console.css"),
    ("POST", "/login"),
])
def test_every_response_carries_the_headers(site, method, path) -> None:  # noqa: ANN001, F811
    _assert_headers(requests.request(method, site + path, allow_redirects=False))


def test_console_pages_after_login_carry_the_headers(site, http) -> None:  # noqa: ANN001, F811
    log_in(http, site, "manager")
    for path in ("/console/queue", "/console/tickets", "/console/oncall", "/console/reports/", "/console/calls"):
        r = http.get(site + path, allow_redirects=False)
        assert r.status_code == 200, path
        _assert_headers(r)


def test_templates_have_no_inline_script_or_style() -> None:
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), f"inline <script> in {template.name}"
        assert not re.search(r"\son[a-z]+\s*=", text), f"inline event handler in {template.name}"
        assert not re.search(r"\sstyle\s*=|<style", text), f"inline style in {template.name}"


def test_cookies_are_secure_behind_https(settings, engine, demo) -> None:  # noqa: ANN001
    from callcenter.app import create_app

    settings.public_url = "https://hotline.example"
    app = create_app(settings, engine)
    client = app.test_client()
    page = client.get("/login")
    assert "Strict-Transport-Security" in page.headers
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    r = client.post("/login", data={"login": "agent1", "password": "demo", "csrf_token": token})
    cookie = r.headers.get("Set-Cookie", "")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_cookies_are_not_secure_on_plain_http(client, demo) -> None:  # noqa: ANN001
    page = client.get("/login")
    assert "Secure" not in page.headers.get("Set-Cookie", "")


def test_a_header_a_view_set_is_kept_and_none_is_doubled(app) -> None:  # noqa: ANN001
    from flask import Response

    @app.get("/own-csp")
    def own_csp():  # noqa: ANN202
        return Response("x", headers={"content-security-policy": "default-src 'none'"})

    r = app.test_client().get("/own-csp")
    assert r.headers.getlist("Content-Security-Policy") == ["default-src 'none'"]
    assert r.headers.getlist("X-Frame-Options") == ["DENY"]


def test_session_cookies_survive_the_cached_serializer_and_follow_a_new_key(app) -> None:  # noqa: ANN001
    from flask import session

    @app.get("/put")
    def put():  # noqa: ANN202
        session["n"] = session.get("n", 0) + 1
        return str(session["n"])

    client = app.test_client()
    assert client.get("/put").get_data(as_text=True) == "1"  # no cookie yet: a fresh, writable session
    assert client.get("/put").get_data(as_text=True) == "2"  # the cookie it set is read back
    app.secret_key = "another key"  # a rotated key: the old cookie no longer verifies
    assert client.get("/put").get_data(as_text=True) == "1"
    app.config["SECRET_KEY_FALLBACKS"] = ["another key"]
    app.secret_key = "a third key"  # the previous key as a fallback: the cookie still verifies
    assert client.get("/put").get_data(as_text=True) == "2"
