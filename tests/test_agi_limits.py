"""FastAGI under abuse and overload: a bounded header, per-command reply timeouts, a bounded number of
sessions with a refusal the dialplan can act on (issue 11 item 7, issue 15 item 12)."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Iterator

import pytest
from agi_peer import build_header
from hotline_helpers import wait_until

from webhooks.agi_protocol import MAX_HEADER_BYTES, MAX_HEADER_LINES, AGITimeout
from webhooks.agi_server import FastAGIServer
from webhooks.agi_session import AGISession


@pytest.fixture
def server_factory() -> Iterator:
    started: list[FastAGIServer] = []

    def start(handler, **kwargs) -> tuple[FastAGIServer, int]:  # noqa: ANN001
        server = FastAGIServer(handler, port=0, **kwargs)
        _, port = server.start_in_thread()
        started.append(server)
        return server, port

    yield start
    for server in started:
        server.stop_thread()


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return sock


def _read_until_closed(sock: socket.socket, limit: float = 10.0) -> bytes:
    sock.settimeout(limit)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return data
        if not chunk:
            return data
        data += chunk


def _flood(sock: socket.socket, payload: bytes, total: int) -> int:
    """Write `payload` repeatedly up to `total` bytes; returns how much the server took before closing."""
    sent = 0
    sock.settimeout(10)
    try:
        while sent < total:
            sock.sendall(payload)
            sent += len(payload)
    except (BrokenPipeError, ConnectionResetError):
        pass
    return sent


async def _never_called(session: AGISession) -> None:
    raise AssertionError("a refused header must not reach the handler")


@pytest.mark.parametrize("flood", ["lines", "bytes", "one-long-line"])
def test_header_flood_is_cut_off_and_logged(flood, server_factory, caplog) -> None:  # noqa: ANN001
    """60 MB of header lines grew the server by 355 MB; a 64 KiB line was an asyncio 'Unhandled exception'."""
    server, port = server_factory(_never_called)
    payload = {"lines": b"agi_x: y\n", "bytes": b"agi_arg_1: " + b"x" * 1000 + b"\n",
               "one-long-line": b"agi_request: " + b"x" * 8192}[flood]
    with caplog.at_level(logging.DEBUG):
        sock = _connect(port)
        sent = _flood(sock, payload, 8 * 1024 * 1024)
        _read_until_closed(sock)
        sock.close()
        wait_until(lambda: any("bad header" in r.getMessage() for r in caplog.records), 30, interval=0.02,
                   what="the refused header's log line")
    assert sent < 8 * 1024 * 1024, "the server kept reading a flood"
    refused = [r.getMessage() for r in caplog.records if "bad header" in r.getMessage()]
    assert len(refused) == 1 and "127.0.0.1:" in refused[0]
    assert ("lines" in refused[0]) if flood == "lines" else ("bytes" in refused[0] or "limit" in refused[0])
    assert not any("Unhandled exception" in r.getMessage() or r.exc_info for r in caplog.records)
    assert server.calls_started == 0


def test_header_within_the_limits_is_served(server_factory) -> None:  # noqa: ANN001
    seen: list[list[str]] = []

    async def handler(session: AGISession) -> None:
        seen.append(session.env.args)

    _, port = server_factory(handler)
    args = [f"arg {i}" for i in range(1, 128)]
    header = build_header(args=args)
    assert header.count(b"\n") < MAX_HEADER_LINES and len(header) < MAX_HEADER_BYTES
    sock = _connect(port)
    sock.sendall(header)
    _read_until_closed(sock)
    sock.close()
    assert seen == [args]


def test_a_pbx_that_stops_answering_does_not_hold_the_session(server_factory, caplog) -> None:  # noqa: ANN001
    outcome: list[BaseException] = []
    done = threading.Event()

    async def handler(session: AGISession) -> None:
        session.reply_seconds = 0.3
        try:
            await session.answer()
        except AGITimeout as exc:
            outcome.append(exc)
            raise
        finally:
            done.set()

    server, port = server_factory(handler)
    with caplog.at_level(logging.INFO):
        sock = _connect(port)
        sock.sendall(build_header(callerid="+3615550101", uniqueid="1795303247.42"))
        assert sock.recv(100).startswith(b"ANSWER")  # ... and Asterisk never replies
        assert done.wait(10)
        assert _read_until_closed(sock) == b""  # the server gave the connection up
        sock.close()
    assert isinstance(outcome[0], AGITimeout)
    warned = [r.getMessage() for r in caplog.records if "no reply" in r.getMessage()]
    assert warned and "1795303247.42" in warned[0] and "+3615550101" in warned[0] and "ANSWER" in warned[0]
    assert server.active == 0


def test_calls_past_the_limit_are_refused_so_the_dialplan_goes_on(server_factory, caplog) -> None:  # noqa: ANN001
    release = asyncio.Event()
    entered = threading.Semaphore(0)
    loop_of: list[asyncio.AbstractEventLoop] = []

    async def handler(session: AGISession) -> None:
        loop_of.append(asyncio.get_running_loop())
        entered.release()
        await release.wait()

    server, port = server_factory(handler, max_sessions=2)
    held = []
    for n in range(2):
        sock = _connect(port)
        sock.sendall(build_header(uniqueid=f"1795303247.{n}"))
        held.append(sock)
        assert entered.acquire(timeout=10)
    with caplog.at_level(logging.WARNING):
        extra = _connect(port)
        extra.sendall(build_header(uniqueid="1795303247.9", callerid="+3615550101"))
        extra.settimeout(10)
        line = extra.recv(200)
        assert line == b'SET VARIABLE HOTLINE_STATUS "BUSY"\n'
        extra.sendall(b"200 result=1\n")
        assert _read_until_closed(extra) == b""
        extra.close()
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert refused and "1795303247.9" in refused[0] and "limit 2" in refused[0]
    assert server.calls_refused == 1 and server.calls_started == 2
    loop_of[0].call_soon_threadsafe(release.set)
    for sock in held:
        _read_until_closed(sock)
        sock.close()
    # Room again: the next call is served.
    sock = _connect(port)
    sock.sendall(build_header(uniqueid="1795303247.10"))
    assert entered.acquire(timeout=10)
    _read_until_closed(sock)
    sock.close()
    assert server.calls_started == 3
