"""The AGI layer (agi_protocol, agi_session, agi_server): parsing, quoting, FastAGI end to end with a fake peer."""

from __future__ import annotations

import asyncio
import logging
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from agi_peer import (
    DEAD_511,
    INVALID_510,
    USAGE_520,
    USAGE_520_MULTI,
    AGIPeer,
    build_header,
    close_on,
    expect,
    hangup_on,
    run_peers,
)
from hotline_helpers import wait_until

from webhooks.agi_protocol import (
    AGICommandError,
    AGIHangup,
    AGIProtocolError,
    format_agi_command,
    parse_agi_environment,
    parse_agi_response,
    quote_agi_arg,
)
from webhooks.agi_server import FastAGIServer
from webhooks.agi_session import AGISession

REPO = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------- environment parsing


def test_parse_real_header_sample() -> None:
    env = parse_agi_environment(build_header().decode().splitlines())
    assert env.network is True
    assert env.network_script == "ivr?lang=hu"
    assert env.request == "agi://127.0.0.1:4573/ivr?lang=hu"
    assert env.script == "ivr"
    assert env.query == {"lang": ["hu"]}
    assert env.query_value("lang") == "hu"
    assert env.channel == "Local/s@withcid-00000000;2"
    assert env.language == "en"
    assert env.uniqueid == "1795303247.1"
    assert env.callerid == "+36301234567"
    assert env.calleridname == "Teszt Elek"
    assert env.dnid is None and env.rdnis is None
    assert env.context == "hotline" and env.extension == "s" and env.priority == "3"
    assert env.version == "22.10.1"
    assert env.accountcode == ""  # "agi_accountcode: " trailing space, empty value
    assert env.raw["agi_threadid"] == "140349574547136"
    assert env.args == []


def test_parse_header_unknown_callerid_args_and_query() -> None:
    header = build_header(
        callerid=None,
        calleridname=None,
        script="hotline",
        query="lang=hu&queue=l1&queue=l2",
        args=["first arg", "2", "", "4", "5", "6", "7", "8", "9", "ten"],
    )
    env = parse_agi_environment(header.splitlines())  # bytes are accepted too
    assert env.callerid is None and env.calleridname is None
    assert env.script == "hotline"
    assert env.query == {"lang": ["hu"], "queue": ["l1", "l2"]}
    # agi_arg_10 sorts after agi_arg_9; empty args stay.
    assert env.args == ["first arg", "2", "", "4", "5", "6", "7", "8", "9", "ten"]


def test_parse_header_tolerates_crlf_spaces_and_stops_at_blank() -> None:
    env = parse_agi_environment(
        ["agi_request: /var/lib/asterisk/agi-bin/hotline.agi  \r\n", "agi_callerid:   \r\n", "\n", "junk"]
    )
    assert env.network is False and env.network_script is None
    assert env.script == "hotline.agi"
    assert env.callerid is None


def test_parse_header_malformed_line() -> None:
    with pytest.raises(AGIProtocolError) as info:
        parse_agi_environment(["agi_request: x", "no colon here", ""])
    assert info.value.line == "no colon here"


# ---------------------------------------------------------------- response parsing


@pytest.mark.parametrize(
    ("line", "result", "raw", "data", "endpos"),
    [
        ("200 result=1", 1, "1", None, None),
        ("200 result=-1", -1, "-1", None, None),
        ("200 result=0 endpos=2000", 0, "0", None, 2000),
        ("200 result=49 endpos=8000\n", 49, "49", None, 8000),
        ("200 result= (timeout)", None, "", "timeout", None),
        ("200 result=12 (timeout)", 12, "12", "timeout", None),
        ("200 result=0123", 123, "0123", None, None),
        ("200 result=*1#", None, "*1#", None, None),
        ("200 result=1 (foo bar (x))", 1, "1", "foo bar (x)", None),
        ("200 result=0 (timeout) endpos=16000", 0, "0", "timeout", 16000),
        ("200 result=-1 (hangup) endpos=400\r\n", -1, "-1", "hangup", 400),
        ("200 result=-2", -2, "-2", None, None),
    ],
)
def test_parse_200_responses(
    line: str, result: int | None, raw: str, data: str | None, endpos: int | None
) -> None:
    resp = parse_agi_response(line)
    assert resp.code == 200 and resp.ok
    assert (resp.result, resp.result_raw, resp.data, resp.endpos) == (result, raw, data, endpos)


def test_parse_timeout_flag_and_extra_words() -> None:
    assert parse_agi_response("200 result= (timeout)").timeout
    resp = parse_agi_response("200 result=0 Gosub complete")
    assert resp.result == 0 and resp.extra == "Gosub complete"
    progress = parse_agi_response("100 result=0 Trying...")
    assert progress.code == 100 and progress.extra == "Trying..."


def test_parse_error_codes() -> None:
    r510 = parse_agi_response(INVALID_510)
    assert r510.code == 510 and not r510.ok and r510.text == "Invalid or unknown command"
    r511 = parse_agi_response(DEAD_511)
    assert r511.code == 511 and r511.dead_channel
    r520 = parse_agi_response(USAGE_520)
    assert r520.code == 520 and not r520.continues and r520.usage == []


def test_parse_multiline_520() -> None:
    first = parse_agi_response(USAGE_520_MULTI[0])
    assert first.code == 520 and first.continues
    block = parse_agi_response(USAGE_520_MULTI)
    assert block.code == 520 and not block.continues
    assert block.usage == [" Usage: GET DATA <file to be streamed> [timeout] [max digits]"]
    assert parse_agi_response("\n".join(USAGE_520_MULTI)).usage == block.usage


@pytest.mark.parametrize(
    "line", ["garbage", "", "20 result=1", "200 foo", "200 result=1 (unclosed", "HANGUP"]
)
def test_parse_malformed_keeps_line(line: str) -> None:
    with pytest.raises(AGIProtocolError) as info:
        parse_agi_response(line)
    assert info.value.line == line


# ---------------------------------------------------------------- quoting


def _asterisk_parse_args(s: str) -> list[str]:
    """Port of res_agi.c parse_args, to check quoting round-trips."""
    args: list[str] = []
    cur: list[str] | None = None
    quoted = escaped = False
    for ch in s:
        if ch == '"' and not escaped:
            quoted = not quoted
            if quoted and cur is None:
                cur = []
            continue
        if ch in " \t" and not quoted and not escaped:
            if cur is not None:
                args.append("".join(cur))
                cur = None
            continue
        if ch == "\\" and not escaped:
            escaped = True
            continue
        if cur is None:
            cur = []
        cur.append(ch)
        escaped = False
    if cur is not None:
        args.append("".join(cur))
    return args


@pytest.mark.parametrize(
    "value",
    ["plain", "", "two words", 'a "q" b', "back\\slash", "end\\", '"', "tab\there", "ünïcødé", "x,y,z"],
)
def test_quote_round_trips_through_asterisk_parser(value: str) -> None:
    line = format_agi_command("SET VARIABLE", "X", value)
    assert _asterisk_parse_args(line) == ["SET", "VARIABLE", "X", value]
    assert _asterisk_parse_args(quote_agi_arg(value, force=True)) == [value]


def test_quote_never_breaks_framing() -> None:
    nasty = 'evil\n200 result=1\r\nHANGUP\x00"\\'
    q = quote_agi_arg(nasty)
    assert "\n" not in q and "\r" not in q and "\x00" not in q
    assert _asterisk_parse_args(q) == ['evil 200 result=1 HANGUP "\\']
    assert quote_agi_arg("beep") == "beep"
    assert quote_agi_arg("") == '""'
    assert quote_agi_arg(3000) == "3000"
    with pytest.raises(ValueError):
        format_agi_command("NOOP", "x" * 9000)
    with pytest.raises(ValueError):
        format_agi_command("NOOP\nANSWER")


# ---------------------------------------------------------------- end to end over TCP


@pytest.fixture
def agi_server() -> Iterator[tuple[FastAGIServer, str, int, dict]]:
    """Server in a background thread; tests install their handler in state['handler']."""
    state: dict = {"handler": None, "results": [], "errors": []}
    lock = threading.Lock()

    async def dispatch(session: AGISession) -> None:
        try:
            await state["handler"](session)
        except BaseException as exc:
            with lock:
                state["errors"].append(exc)
            raise

    server = FastAGIServer(dispatch, port=0)
    host, port = server.start_in_thread()
    try:
        yield server, host, port, state
    finally:
        server.stop_thread()


async def demo_handler(session: AGISession) -> dict:
    out: dict = {"script": session.env.script, "callerid": session.env.callerid, "args": session.env.args}
    await session.answer()
    out["digit"] = await session.stream_file("hotline/welcome", "12")
    out["account"] = await session.get_data("hotline/enter-account", 3000, 4)
    await session.set_variable("QUEUESTATUS", "")
    out["queue"] = (await session.exec("Queue", "support", "n", "", "", 45)).result
    out["queuestatus"] = await session.get_variable("QUEUESTATUS")
    await session.hangup()
    return out


def demo_script() -> list:
    return [
        expect("ANSWER", "200 result=0"),
        expect("STREAM FILE hotline/welcome 12", "200 result=49 endpos=4000"),
        expect("GET DATA hotline/enter-account 3000 4", "200 result=0042"),
        expect('SET VARIABLE QUEUESTATUS ""', "200 result=1"),
        expect('EXEC Queue "support,n,,,45"', "200 result=0"),
        expect("GET VARIABLE QUEUESTATUS", "200 result=1 (TIMEOUT)"),
        expect("HANGUP", "200 result=1", hangup_after=True),
    ]


def test_demo_call_end_to_end(agi_server) -> None:
    server, host, port, state = agi_server

    async def handler(session: AGISession) -> None:
        state["results"].append(await demo_handler(session))

    state["handler"] = handler
    peer = AGIPeer(demo_script(), script="hotline", query="lang=hu", args=["42"], callerid=None)
    run_peers(host, port, [peer])
    peer.assert_ok()
    assert state["errors"] == []
    assert state["results"] == [
        {
            "script": "hotline",
            "callerid": None,
            "args": ["42"],
            "digit": "1",
            "account": "0042",
            "queue": 0,
            "queuestatus": "TIMEOUT",
        }
    ]
    assert peer.transcript[0] == ("ANSWER", "200 result=0")
    assert len(peer.transcript) == 7


def test_hangup_line_mid_session_raises_and_server_survives(agi_server, caplog) -> None:
    server, host, port, state = agi_server
    seen: list = []

    async def handler(session: AGISession) -> None:
        await session.answer()
        try:
            await session.stream_file("hotline/menu", "123")
        except AGIHangup:
            seen.append(("hangup", session.hungup))
            # Dead-channel-safe bookkeeping still works after the hangup.
            seen.append(("dialstatus", await session.get_variable("DIALSTATUS")))
            raise

    state["handler"] = handler
    peer = AGIPeer(
        [
            expect("ANSWER"),
            hangup_on(re.compile(r"^STREAM FILE hotline/menu ")),
            expect("GET VARIABLE DIALSTATUS", "200 result=1 (ANSWER)"),
        ]
    )
    with caplog.at_level(logging.INFO, logger="webhooks"):
        run_peers(host, port, [peer])
    peer.assert_ok()
    assert seen == [("hangup", True), ("dialstatus", "ANSWER")]
    assert any("ended by hangup" in r.getMessage() for r in caplog.records)
    # Server still serves the next call.
    state["handler"] = demo_handler
    peer2 = AGIPeer(demo_script())
    run_peers(host, port, [peer2])
    peer2.assert_ok()


def test_hangup_then_511_for_later_channel_commands(agi_server) -> None:
    """HANGUP arrives with a 200 for a dead-safe command; the next channel command gets 511."""
    server, host, port, state = agi_server
    seen: list = []

    async def handler(session: AGISession) -> None:
        await session.verbose("hello")
        seen.append(session.hungup)
        try:
            await session.get_data("x", 1000, 1)
        except AGIHangup as exc:
            seen.append(exc.reason)

    state["handler"] = handler
    peer = AGIPeer([expect('VERBOSE "hello" 1', "200 result=1", hangup_before=True)])
    run_peers(host, port, [peer])
    peer.assert_ok()
    assert seen == [True, "dead channel (511)"]
    assert peer.transcript[-1] == ("GET DATA x 1000 1", DEAD_511)


def test_get_data_minus_one_then_hangup_detected(agi_server) -> None:
    """Observed order: '200 result=-1' for GET DATA, HANGUP before the next reply."""
    server, host, port, state = agi_server
    seen: list = []

    async def handler(session: AGISession) -> None:
        try:
            await session.get_data("hotline/menu", 5000, 1)
        except AGIHangup:
            seen.append("hangup")
            raise

    state["handler"] = handler
    peer = AGIPeer(
        [
            expect("GET DATA hotline/menu 5000 1", "200 result=-1"),
            hangup_on("CHANNEL STATUS"),
        ]
    )
    run_peers(host, port, [peer])
    peer.assert_ok()
    assert seen == ["hangup"]


def test_missing_file_on_live_channel_is_command_error(agi_server) -> None:
    server, host, port, state = agi_server
    seen: list = []

    async def handler(session: AGISession) -> None:
        try:
            await session.stream_file("no-such-file")
        except AGICommandError as exc:
            seen.append((exc.response.result, exc.response.endpos))

    state["handler"] = handler
    peer = AGIPeer(
        [
            expect('STREAM FILE no-such-file ""', "200 result=-1 endpos=0"),
            expect("CHANNEL STATUS", "200 result=6"),
        ]
    )
    run_peers(host, port, [peer])
    peer.assert_ok()
    assert seen == [(-1, 0)]


def test_get_data_timeout_semantics(agi_server) -> None:
    server, host, port, state = agi_server

    async def handler(session: AGISession) -> None:
        state["results"].append(await session.get_data("a", 3000, 4))
        state["results"].append(await session.get_data("b", 3000, 4))
        state["results"].append(await session.get_data("c", 3000, 4))
        state["results"].append(await session.wait_for_digit(2000))
        state["results"].append(await session.wait_for_digit(2000))

    state["handler"] = handler
    peer = AGIPeer(
        [
            expect("GET DATA a 3000 4", "200 result= (timeout)"),
            expect("GET DATA b 3000 4", "200 result=12 (timeout)"),
            expect("GET DATA c 3000 4", "200 result="),
            expect("WAIT FOR DIGIT 2000", "200 result=0"),
            expect("WAIT FOR DIGIT 2000", "200 result=35"),
        ]
    )
    run_peers(host, port, [peer])
    peer.assert_ok()
    assert state["results"] == [None, "12", "", None, "#"]


def test_1xx_lines_and_error_codes(agi_server) -> None:
    server, host, port, state = agi_server
    seen: list = []

    async def handler(session: AGISession) -> None:
        resp = await session.command("GOSUB", "sub-x", "s", 1)
        seen.append((resp.code, resp.extra))
        for cmd in ("FOO", "GET DATA", "SAY DIGITS"):
            try:
                await session.command(cmd)
            except AGICommandError as exc:
                seen.append((exc.response.code, len(exc.response.usage)))
        try:
            await session.exec("NoSuchApp")
        except AGICommandError as exc:
            seen.append(("exec", exc.response.result))

    state["handler"] = handler
    peer = AGIPeer(
        [
            expect("GOSUB sub-x s 1", ["100 result=0 Trying...", "200 result=0 Gosub complete"]),
            expect("FOO", INVALID_510),
            expect("GET DATA", USAGE_520_MULTI),
            expect("SAY DIGITS", USAGE_520),
            expect("EXEC NoSuchApp", "200 result=-2"),
        ]
    )
    run_peers(host, port, [peer])
    peer.assert_ok()
    assert seen == [(200, "Gosub complete"), (510, 0), (520, 1), (520, 0), ("exec", -2)]


def test_peer_closes_socket_mid_command(agi_server) -> None:
    server, host, port, state = agi_server
    seen: list = []

    async def handler(session: AGISession) -> None:
        await session.answer()
        try:
            await session.get_data("hotline/menu", 5000, 1)
        except AGIHangup as exc:
            seen.append(exc.eof)
            with pytest.raises(AGIHangup):
                await session.verbose("too late")
            raise

    state["handler"] = handler
    peer = AGIPeer([expect("ANSWER"), close_on(re.compile("^GET DATA"))])
    run_peers(host, port, [peer])
    peer.assert_ok(server_closed=False)
    # The peer is gone before the server has read the EOF: wait for the handler to see it.
    wait_until(lambda: seen, 30, interval=0.01, what="the handler to see the EOF")
    assert seen == [True]
    peer2 = AGIPeer(demo_script())
    state["handler"] = demo_handler
    run_peers(host, port, [peer2])
    peer2.assert_ok()


def test_malformed_response_raises_protocol_error_with_line(agi_server, caplog) -> None:
    server, host, port, state = agi_server
    seen: list = []

    async def handler(session: AGISession) -> None:
        try:
            await session.answer()
        except AGIProtocolError as exc:
            seen.append(exc.line)
            raise

    state["handler"] = handler
    peer = AGIPeer([expect("ANSWER", "20O result=0 garbage")])
    with caplog.at_level(logging.ERROR, logger="webhooks"):
        run_peers(host, port, [peer])
    peer.assert_ok()
    assert seen == ["20O result=0 garbage"]
    assert any("20O result=0 garbage" in r.getMessage() for r in caplog.records)


def test_handler_exception_is_logged_and_server_survives(agi_server, caplog) -> None:
    server, host, port, state = agi_server

    async def handler(session: AGISession) -> None:
        await session.answer()
        raise RuntimeError("boom")

    state["handler"] = handler
    with caplog.at_level(logging.ERROR, logger="webhooks"):
        peer = AGIPeer([expect("ANSWER")])
        run_peers(host, port, [peer])
    peer.assert_ok()
    assert any("crashed" in r.getMessage() for r in caplog.records)
    state["handler"] = demo_handler
    peer2 = AGIPeer(demo_script())
    run_peers(host, port, [peer2])
    peer2.assert_ok()


def test_eof_in_header_never_calls_handler(agi_server) -> None:
    server, host, port, state = agi_server
    called: list = []

    async def handler(session: AGISession) -> None:
        called.append(session)

    state["handler"] = handler
    partial = build_header()[:120]
    peer = AGIPeer([], header=partial, close_after_header=True)
    run_peers(host, port, [peer])
    state["handler"] = demo_handler
    peer2 = AGIPeer(demo_script())
    run_peers(host, port, [peer2])
    peer2.assert_ok()
    assert called == []


def test_fifty_concurrent_calls(agi_server) -> None:
    server, host, port, state = agi_server

    async def handler(session: AGISession) -> None:
        result = await demo_handler(session)
        state["results"].append((session.env.uniqueid, result["account"]))

    state["handler"] = handler
    peers = [AGIPeer(demo_script(), uniqueid=f"1795303247.{i}") for i in range(50)]
    run_peers(host, port, peers)
    for peer in peers:
        peer.assert_ok()
    assert sorted(state["results"]) == sorted((f"1795303247.{i}", "0042") for i in range(50))
    assert state["errors"] == []


def test_session_timings_recorded(agi_server) -> None:
    server, host, port, state = agi_server
    timings: list = []

    async def handler(session: AGISession) -> None:
        await demo_handler(session)
        timings.extend(session.timings)

    state["handler"] = handler
    run_peers(host, port, [AGIPeer(demo_script())])
    assert [t.command for t in timings][:3] == ["ANSWER", "STREAM FILE", "GET DATA"]
    assert all(t.latency >= 0 and t.gap is not None for t in timings)


def test_commands_are_serialised_within_a_session(agi_server) -> None:
    server, host, port, state = agi_server

    async def handler(session: AGISession) -> None:
        results = await asyncio.gather(*(session.get_variable(f"V{i}") for i in range(5)))
        state["results"].append(results)

    state["handler"] = handler
    peer = AGIPeer([expect(f"GET VARIABLE V{i}", f"200 result=1 (v{i})") for i in range(5)])
    run_peers(host, port, [peer])
    peer.assert_ok()
    assert state["results"] == [[f"v{i}" for i in range(5)]]


# ---------------------------------------------------------------- classic AGI over stdin/stdout

STDIO_SCRIPT = """
import logging, sys
logging.basicConfig(stream=sys.stderr)
from webhooks.agi_server import run_stdio

async def handler(session):
    await session.answer()
    digits = await session.get_data("hotline/menu", 3000, 1)
    await session.verbose(f"got {digits} from {session.env.callerid}")

run_stdio(handler)
"""


def test_classic_stdio_agi() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", STDIO_SCRIPT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
    )
    assert proc.stdin and proc.stdout
    header = build_header(overrides={"agi_request": "hotline.agi", "agi_network": "no"})
    proc.stdin.write(header)
    proc.stdin.flush()
    transcript = []
    for reply in ("200 result=0", "200 result=3", "200 result=1"):
        line = proc.stdout.readline().decode().rstrip("\n")
        transcript.append(line)
        proc.stdin.write(f"{reply}\n".encode())
        proc.stdin.flush()
    proc.stdin.close()
    rest = proc.stdout.read()
    proc.wait(timeout=10)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    assert transcript == ["ANSWER", "GET DATA hotline/menu 3000 1", 'VERBOSE "got 3 from +36301234567" 1']
    assert rest == b""
