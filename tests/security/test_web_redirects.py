"""Open redirects after login and after a language change: only same-site relative paths are followed."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from web_helpers import csrf_token, http, log_in, site  # noqa: F401 (fixtures)

from callcenter.web.login import safe_next

TRICKS = [
    "//evil.example/",
    "///evil.example/",
    "/\t/evil.example/",
    "/\n/evil.example/",
    "/\r\n/evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "/\\/evil.example/",
    " //evil.example/",
    "https://evil.example/",
    "http:evil.example",
    "http:/evil.example",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "/\x00/evil.example",
    "/\x7f/evil.example",
    "\t//evil.example",
    "//\tevil.example",
]


@pytest.mark.parametrize("target", TRICKS)
def test_login_never_redirects_off_site(site, http, target) -> None:  # noqa: ANN001, F811
    r = log_in(http, site, "agent1", next_path=target)
    if "\x00" in target:
        assert r.status_code == 400  # NUL is refused at the edge before any view runs
        return
    assert r.status_code == 302
    location = r.headers["Location"]
    assert location == "/", f"{target!r} led to {location!r}"


@pytest.mark.parametrize("target", TRICKS)
def test_safe_next_refuses_the_trick(target) -> None:  # noqa: ANN001
    assert safe_next(target, "/home") == "/home"


def test_same_site_paths_are_kept(site, http) -> None:  # noqa: ANN001, F811
    r = log_in(http, site, "agent1", next_path="/console/tickets?status=new&q=a%2Fb")
    assert r.status_code == 302
    parts = urlsplit(r.headers["Location"])
    assert not parts.netloc and parts.path == "/console/tickets" and parts.query == "status=new&q=a%2Fb"


@pytest.mark.parametrize("target", ["//evil.example/", "/\t/evil.example/", "/\\evil.example/"])
def test_language_change_never_redirects_off_site(site, http, target) -> None:  # noqa: ANN001, F811
    log_in(http, site, "agent1")
    r = http.post(site + "/language", allow_redirects=False,
                  data={"lang": "hu", "next": target, "csrf_token": csrf_token(http, site, "/console/queue")})
    assert r.status_code == 302 and r.headers["Location"] == "/"
