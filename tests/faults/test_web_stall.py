"""The console and the API while PostgreSQL (behind a TCP proxy) accepts and never answers: a request
whose database gives up is a 503 Service Unavailable with Retry-After (JSON under /api/, the console's
own page elsewhere), not a 500 "something went wrong on our side", and the next request after the
recovery is answered."""

from __future__ import annotations

import pytest
from conftest import is_postgres
from faults.proxy import StallingProxy
from security.web_helpers import CSRF
from sqlalchemy.engine import make_url

from callcenter.app import create_app
from callcenter.db import DbTimeouts, make_engine

pytestmark = pytest.mark.skipif(not is_postgres(), reason="stalls a PostgreSQL connection through a TCP proxy")


def test_a_request_the_database_cannot_answer_is_a_503(database_url, settings, demo, api_token):  # noqa: ANN001
    headers = api_token("admin")
    real = make_url(database_url)
    proxy = StallingProxy(real.host or "127.0.0.1", real.port or 5432).start()
    proxied = real.set(host=proxy.host, port=proxy.port).render_as_string(hide_password=False)
    engine = make_engine(proxied, timeouts=DbTimeouts(connect=2, statement=2, pool=2))
    client = create_app(settings, engine).test_client()
    try:
        assert client.get("/api/v1/tickets", headers=headers).status_code == 200
        login = client.get("/login")
        assert login.status_code == 200
        token = CSRF.search(login.get_data(as_text=True)).group(1)
        proxy.stall()
        api = client.get("/api/v1/tickets", headers=headers)
        assert api.status_code == 503, api.get_data(as_text=True)[:300]
        assert api.is_json and "database" in api.get_json()["error"] and api.headers["Retry-After"]
        page = client.post("/login", data={"login": "agent1", "password": "demo", "csrf_token": token})
        assert page.status_code == 503 and "text/html" in page.content_type
        assert "busy or restarting" in page.get_data(as_text=True)
        # Logged in, the error page itself needs the person (the menu, their language): it must still be
        # answered, in plain words, and not escape as an exception (waitress's bare 500).
        proxy.recover()
        agent = create_app(settings, engine).test_client()
        token = CSRF.search(agent.get("/login").get_data(as_text=True)).group(1)
        login = agent.post("/login", data={"login": "agent1", "password": "demo", "csrf_token": token})
        assert login.status_code == 302
        assert agent.get("/").status_code in (200, 302)
        proxy.stall()
        page = agent.get("/")
        assert page.status_code == 503 and "Service Unavailable" in page.get_data(as_text=True)
        proxy.recover()
        assert client.get("/api/v1/tickets", headers=headers).status_code == 200
        assert agent.get("/").status_code in (200, 302)
    finally:
        proxy.stop()
        engine.dispose()
