"""Console sessions as an attacker would try them: a copied cookie after logout, after a password change,
after deactivation; capitals in usernames; empty passwords; login time that tells names apart."""

from __future__ import annotations

import requests
from click.testing import CliRunner
from web_helpers import csrf_token, http, log_in, site, snapshot  # noqa: F401 (fixtures)

from callcenter import auth
from callcenter.cli import cli
from callcenter.models import utcnow


def _replay(base: str, cookies: dict, path: str = "/console/queue") -> requests.Response:
    """A fresh client holding only the stolen cookie."""
    with requests.Session() as thief:
        thief.cookies.update(cookies)
        return thief.get(base + path, allow_redirects=False)


def _run(settings, *args: str):  # noqa: ANN001, ANN202
    return CliRunner().invoke(cli, list(args), env={"CALLCENTER_DATABASE_URL": settings.database_url})


def test_cookie_replayed_after_logout_is_refused(site, http, session) -> None:  # noqa: ANN001, F811
    assert log_in(http, site, "agent1").status_code == 302
    stolen = http.cookies.get_dict()
    assert _replay(site, stolen).status_code == 200  # the copy works while the session lives
    token = csrf_token(http, site, "/console/queue")
    assert http.post(site + "/logout", data={"csrf_token": token}, allow_redirects=False).status_code == 302
    before = snapshot(session)
    r = _replay(site, stolen)
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    # A state-changing form posted with the replayed cookie (and its CSRF token) changes nothing.
    with requests.Session() as thief:
        thief.cookies.update(stolen)
        r = thief.post(site + "/console/tickets/new", allow_redirects=False,
                       data={"subject": "planted", "category": "user", "csrf_token": token})
    assert r.status_code in (302, 400) and "/console/tickets/" not in r.headers.get("Location", "")
    assert snapshot(session) == before


def test_password_change_ends_sessions_and_revokes_api_tokens(site, http, session, settings) -> None:  # noqa: ANN001, F811
    assert log_in(http, site, "eng2").status_code == 302
    stolen = http.cookies.get_dict()
    token = auth.issue_token(session, "eng2", utcnow())
    session.commit()
    bearer = {"Authorization": f"Bearer {token}"}
    assert requests.get(site + "/api/v1/tickets", headers=bearer).status_code == 200
    result = _run(settings, "user", "password", "eng2", "--password", "n3w-secret")
    assert result.exit_code == 0, result.output
    assert _replay(site, stolen).status_code == 302
    assert requests.get(site + "/api/v1/tickets", headers=bearer).status_code == 401
    with requests.Session() as fresh:
        assert log_in(fresh, site, "eng2", "n3w-secret").status_code == 302


def test_deactivate_and_revoke_tokens_commands(site, http, session, settings) -> None:  # noqa: ANN001, F811
    assert log_in(http, site, "agent2").status_code == 302
    stolen = http.cookies.get_dict()
    tokens = [auth.issue_token(session, "agent2", utcnow()) for _ in range(2)]
    session.commit()
    result = _run(settings, "user", "revoke-tokens", "agent2")
    assert result.exit_code == 0 and "2 API token(s) revoked" in result.output
    for token in tokens:
        assert requests.get(site + "/api/v1/tickets", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert _replay(site, stolen).status_code == 200  # revoking tokens leaves console logins alone
    token = auth.issue_token(session, "agent2", utcnow())
    session.commit()
    result = _run(settings, "user", "deactivate", "AGENT2")
    assert result.exit_code == 0 and "1 API token(s) revoked" in result.output
    assert _replay(site, stolen).status_code == 302
    assert requests.get(site + "/api/v1/tickets", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    with requests.Session() as fresh:
        assert log_in(fresh, site, "agent2").status_code == 401
    assert _run(settings, "user", "deactivate", "nobody").exit_code != 0


def test_usernames_with_capitals_log_in(site, http, settings) -> None:  # noqa: ANN001, F811
    result = _run(settings, "user", "create", "Maria.Field", "--name", "Maria Field", "--role", "engineer",
                  "--password", "field-pass")
    assert result.exit_code == 0 and "created maria.field" in result.output
    assert log_in(http, site, "Maria.Field", "field-pass").status_code == 302
    with requests.Session() as other:
        assert log_in(other, site, "MARIA.FIELD", "field-pass").status_code == 302
    # The same name with other capitals is the same person: not a second account.
    again = _run(settings, "user", "create", "maria.FIELD", "--name", "Impostor", "--password", "x")
    assert again.exit_code != 0 and "exists already" in again.output


def test_empty_passwords_are_refused(site, http, session, settings) -> None:  # noqa: ANN001, F811
    before = snapshot(session)
    assert log_in(http, site, "agent1", "").status_code == 401
    assert _run(settings, "user", "password", "agent1", "--password", "").exit_code != 0
    assert _run(settings, "user", "password", "agent1", "--password", "   ").exit_code != 0
    assert _run(settings, "user", "create", "blank", "--name", "Blank", "--password", "").exit_code != 0
    after = snapshot(session)
    assert after["users"] == before["users"] and after["successful_logins"] == 0


def test_unknown_names_cost_the_same_password_check(session, demo, monkeypatch) -> None:  # noqa: ANN001
    """Login time must not tell which names exist: an unknown name runs one full hash check too.

    Counted, not timed (timing assertions are flaky on a shared machine)."""
    checks: list[str] = []
    real = auth.check_password_hash

    def counting(stored: str, password: str) -> bool:
        checks.append(stored.split("$", 1)[0])
        return real(stored, password)

    monkeypatch.setattr(auth, "check_password_hash", counting)
    now = utcnow()
    for name in ("agent1", "no-such-user", "ghost@nowhere.example"):
        assert auth.authenticate(session, name, "wrong", now) is None
    assert len(checks) == 3 and len(set(checks)) == 1  # same method and cost for each
