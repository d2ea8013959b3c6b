"""One meaning of "the database is unavailable" for every adapter (callcenter/db_unavailable.py).

A connection the driver closed under us surfaces as SQLAlchemy's InterfaceError, a refused or stalled
one as OperationalError, an exhausted pool as TimeoutError. Each of them means the same to a client:
nothing was written and trying again shortly is right. The console and the API answer 503 with
Retry-After, the on-call webhooks say "not recorded", mail intake answers "try again later".
"""

from __future__ import annotations

import pytest
from hotline_helpers import unavailable
from sqlalchemy import exc as sa_exc

from callcenter.db_unavailable import DATABASE_UNAVAILABLE, database_unavailable
from callcenter.mail.intake import is_transient


class _Closed(Exception):
    """What a driver raises for a connection already closed."""


UNAVAILABLE = [
    sa_exc.InterfaceError("SELECT 1", {}, _Closed("connection already closed")),
    sa_exc.OperationalError("SELECT 1", {}, _Closed("connection refused")),
    sa_exc.TimeoutError("QueuePool limit reached"),
]


@pytest.mark.parametrize("error", UNAVAILABLE, ids=lambda e: type(e).__name__)
def test_every_adapter_uses_one_definition(error: Exception) -> None:
    assert isinstance(error, DATABASE_UNAVAILABLE) and database_unavailable(error)
    assert is_transient(error)  # mail intake: 451 / exit 75, the MTA delivers again


def test_a_programming_error_is_not_unavailability() -> None:
    error = sa_exc.ProgrammingError("SELECT nope", {}, _Closed("syntax error"))
    assert not database_unavailable(error) and not is_transient(error)


@pytest.mark.parametrize("error", UNAVAILABLE, ids=lambda e: type(e).__name__)
def test_the_api_and_the_console_answer_503_for_each(app, engine, demo, api_token, error: Exception) -> None:  # noqa: ANN001
    headers = api_token("admin")
    client = app.test_client()

    with unavailable(engine, error):
        api = client.get("/api/v1/tickets", headers=headers)
        assert api.status_code == 503, api.get_data(as_text=True)[:300]
        assert api.is_json and "database" in api.get_json()["error"] and api.headers["Retry-After"]
        page = client.get("/login")
        assert page.status_code in (200, 503)  # the login form may need no database at all
        if page.status_code == 503:
            assert page.headers["Retry-After"]
    assert client.get("/api/v1/tickets", headers=headers).status_code == 200
