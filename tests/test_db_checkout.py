"""PostgreSQL pooled connections are checked without a round trip: a connection used a moment ago goes
straight to work (a webhook's transaction is BEGIN, INSERT, COMMIT, not a ping first), one the server
hung up on, or one idle for long, is pinged and replaced, and nothing fails for the caller."""

from __future__ import annotations

import pytest
from conftest import is_postgres
from sqlalchemy import text

from callcenter import db
from callcenter.db import make_engine

pytestmark = pytest.mark.skipif(not is_postgres(), reason="the checkout check is PostgreSQL's")


@pytest.fixture
def pg_engine(database_url):  # noqa: ANN001, ANN201
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    pings: list[int] = []
    real = engine.dialect.do_ping

    def counting_ping(dbapi_connection):  # noqa: ANN001, ANN202
        pings.append(1)
        return real(dbapi_connection)

    engine.dialect.do_ping = counting_ping
    engine.pings = pings
    yield engine
    engine.dispose()


def backend_pid(engine) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.scalar(text("SELECT pg_backend_pid()"))


def test_a_connection_used_a_moment_ago_is_not_pinged(pg_engine) -> None:  # noqa: ANN001
    first = backend_pid(pg_engine)
    for _ in range(5):
        assert backend_pid(pg_engine) == first
    assert pg_engine.pings == []


def test_a_connection_the_server_ended_is_replaced_without_an_error(pg_engine, database_url) -> None:  # noqa: ANN001
    first = backend_pid(pg_engine)
    admin = make_engine(database_url)
    try:
        with admin.connect() as conn:
            assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
            # The server's goodbye reaches the pooled connection's socket before anyone uses it.
            conn.execute(text("SELECT pg_sleep(0.2)"))
    finally:
        admin.dispose()
    second = backend_pid(pg_engine)  # no OperationalError: the pool saw the socket speak and pinged
    assert second != first and pg_engine.pings == [1]


def test_a_connection_idle_for_long_is_pinged(pg_engine, monkeypatch) -> None:  # noqa: ANN001
    first = backend_pid(pg_engine)
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)
    assert backend_pid(pg_engine) == first
    assert pg_engine.pings == [1]


def test_the_check_works_past_select_s_descriptor_limit(pg_engine) -> None:  # noqa: ANN001
    """A web or AGI process holds many sockets: the pool's descriptors may be above 1024."""
    import socket

    held = [socket.socket() for _ in range(1100)]  # push new descriptors past FD_SETSIZE
    try:
        pg_engine.dispose()
        first = backend_pid(pg_engine)
        with pg_engine.connect() as conn:
            assert conn.connection.dbapi_connection.fileno() > 1024
        assert backend_pid(pg_engine) == first and pg_engine.pings == []
    finally:
        for s in held:
            s.close()
