"""Parallel wrong passwords cannot get past the lockout: each password check takes a slot first."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import select
from web_helpers import csrf_token, log_in, site, snapshot  # noqa: F401 (fixtures)

from callcenter.auth import LOCKOUT, MAX_FAILURES
from callcenter.models import LoginAttempt, LoginThrottle

ATTEMPTS = 24


def _wrong_password(base: str) -> int:
    with requests.Session() as http:
        token = csrf_token(http, base)
        return http.post(base + "/login", allow_redirects=False,
                         data={"login": "Manager", "password": "guess", "csrf_token": token}).status_code


def test_parallel_wrong_passwords_are_held_to_the_limit(site, session) -> None:  # noqa: ANN001, F811
    before = snapshot(session)
    with ThreadPoolExecutor(max_workers=12) as pool:
        codes = list(pool.map(lambda _: _wrong_password(site), range(ATTEMPTS)))
    assert codes.count(401) == MAX_FAILURES, codes
    assert codes.count(429) == ATTEMPTS - MAX_FAILURES, codes
    with requests.Session() as owner:
        assert log_in(owner, site, "manager").status_code == 429  # the right password waits too
    session.expire_all()
    assert session.scalar(select(LoginThrottle.failures).where(LoginThrottle.login == "manager")) == MAX_FAILURES
    tries = session.scalars(select(LoginAttempt).where(LoginAttempt.login == "manager")).all()
    assert len(tries) == ATTEMPTS + 1 and not any(t.success for t in tries)  # every try is logged
    assert snapshot(session) == before


def test_lockout_window_ends_and_success_gives_the_slots_back(session, demo, now) -> None:  # noqa: ANN001
    from callcenter.auth import AuthError, authenticate

    for _ in range(MAX_FAILURES - 1):
        assert authenticate(session, "qa", "wrong", now) is None
    assert authenticate(session, "qa", "demo", now) is not None
    for _ in range(MAX_FAILURES):
        assert authenticate(session, "qa", "wrong", now) is None
    try:
        authenticate(session, "qa", "demo", now)
    except AuthError:
        pass
    else:
        raise AssertionError("the sixth try within the window must be refused")
    later = now + LOCKOUT
    assert authenticate(session, "qa", "demo", later) is not None
