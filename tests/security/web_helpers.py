"""An outsider's HTTP client for the security suite: real requests to the app served on 127.0.0.1."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests
from browser import serve
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.models import ApiToken, Approval, LoginAttempt, StaffUser, Ticket, TicketEvent

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(http: requests.Session, base: str, path: str = "/login") -> str:
    return CSRF.search(http.get(base + path).text).group(1)


def log_in(http: requests.Session, base: str, name: str, password: str = "demo",
           next_path: str | None = None) -> requests.Response:
    params = {"next": next_path} if next_path is not None else None
    return http.post(base + "/login", params=params, allow_redirects=False,
                     data={"login": name, "password": password, "csrf_token": csrf_token(http, base)})


def snapshot(session: Session) -> dict:
    """What an attack must not change: tickets, their events, approvals, users, tokens."""
    session.expire_all()
    count = lambda model: session.scalar(select(func.count()).select_from(model))  # noqa: E731
    return {
        "tickets": [(t.number, t.status, t.subject) for t in session.scalars(select(Ticket).order_by(Ticket.id))],
        "events": count(TicketEvent),
        "approvals": [(a.id, a.status, a.decided_by_name, a.evidence)
                      for a in session.scalars(select(Approval).order_by(Approval.id))],
        "users": [(u.username, u.active, u.password_hash, u.session_version)
                  for u in session.scalars(select(StaffUser).order_by(StaffUser.id))],
        "live_tokens": session.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.revoked_at.is_(None))),
        "successful_logins": session.scalar(select(func.count()).select_from(LoginAttempt)
                                            .where(LoginAttempt.success.is_(True))),
    }


@pytest.fixture
def site(app, demo) -> Iterator[str]:  # noqa: ANN001
    """The app on 127.0.0.1 with an ephemeral port and the demo data; the base URL."""
    with serve(app) as base:
        yield base


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s
