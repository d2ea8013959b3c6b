"""FastAGI load bench: N concurrent scripted calls against FastAGIServer over TCP.

What is measured ("added latency"): for every command, the time from the fake
Asterisk writing its reply to the previous command until the next command line
arrives. That is exactly the time our side (parse reply, run handler logic, format
and send the next command, plus loopback TCP) adds to a call; Asterisk's own time
(prompt playback, DTMF waits) is outside it. The first command of each call is
reported separately (header parsing + connection setup). The server-side round
trip per command (write -> reply, from ``AGISession.timings``) is also printed.

Both ends run in this one process (server loop in a thread, peers in the main
loop) and share the GIL, so figures are pessimistic compared with a real PBX.

Usage: ``python bench/agi_bench.py [--calls 200] [--reply-delay-ms 0]``.
Reuse: ``run_agi_bench(handler_factory=lambda: my_handler, peer_factory=...)``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from agi_peer import AGIPeer, Step, expect, plausible_reply, run_peers_async  # noqa: E402

from webhooks.agi_protocol import AGISession, FastAGIServer, Handler  # noqa: E402

COMMANDS_PER_CALL = 10


async def default_handler(session: AGISession) -> None:
    """A typical short IVR call: 10 commands."""
    uid = session.env.uniqueid
    await session.answer()
    await session.exec("MixMonitor", f"hotline-{uid}.wav", "b")
    await session.stream_file("hotline/welcome", "")
    choice = await session.get_data("hotline/menu", 3000, 1)
    await session.set_variable("HOTLINE_CHOICE", choice or "")
    await session.verbose(f"call {uid} chose {choice}", 3)
    await session.set_variable("QUEUESTATUS", "")
    await session.exec("Queue", "support", "n", "", "", 45)
    await session.get_variable("QUEUESTATUS")
    await session.hangup()


def default_steps(i: int, reply_delay: float = 0.0) -> list[Step]:
    """Script matching default_handler. ``reply_delay`` is a mean: each reply waits a
    uniform 0..2x delay so calls do not move in lock-step (as prompts of different
    lengths would)."""
    uid = f"1795303247.{i}"
    rng = random.Random(i)
    steps = [
        expect("ANSWER", "200 result=0"),
        expect(f'EXEC MixMonitor "hotline-{uid}.wav,b"', "200 result=0"),
        expect('STREAM FILE hotline/welcome ""', "200 result=0 endpos=8000"),
        expect("GET DATA hotline/menu 3000 1", "200 result=2"),
        expect('SET VARIABLE HOTLINE_CHOICE "2"', "200 result=1"),
        expect(f'VERBOSE "call {uid} chose 2" 3', "200 result=1"),
        expect('SET VARIABLE QUEUESTATUS ""', "200 result=1"),
        expect('EXEC Queue "support,n,,,45"', "200 result=0"),
        expect("GET VARIABLE QUEUESTATUS", "200 result=1 (TIMEOUT)"),
        expect("HANGUP", "200 result=1", hangup_after=True),
    ]
    if reply_delay:
        for step in steps:
            step.delay = rng.uniform(0, 2 * reply_delay)
    return steps


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return ordered[index]


def _default_peer_factory(mode: str, reply_delay: float) -> Callable[[int], AGIPeer]:
    def factory(i: int) -> AGIPeer:
        if mode == "script":
            return AGIPeer(default_steps(i, reply_delay), uniqueid=f"1795303247.{i}", script="hotline")
        return AGIPeer([], uniqueid=f"1795303247.{i}", script="hotline", auto_reply=plausible_reply)

    return factory


def _peer_stats(peers: list[AGIPeer]) -> dict:
    first: list[float] = []
    gaps: list[float] = []
    errors: list[str] = []
    for peer in peers:
        peer_gaps = peer.gaps()
        if peer_gaps:
            first.append(peer_gaps[0])
            gaps.extend(peer_gaps[1:])
        errors.extend(peer.errors)
        if not peer.server_closed:
            errors.append("server did not close the connection")
    return {
        "first": first,
        "gaps": gaps,
        "errors": errors,
        "completed": sum(1 for p in peers if not p.errors and p.server_closed),
        "commands": sum(len(p.transcript) for p in peers),
    }


def _peer_only(host: str, port: int, calls: int, reply_delay: float, mode: str) -> None:
    factory = _default_peer_factory(mode, reply_delay)
    peers = [factory(i) for i in range(calls)]
    start = time.perf_counter()
    asyncio.run(run_peers_async(host, port, peers))
    # Own wall clock: the parent's would include this interpreter's start-up.
    print(json.dumps({**_peer_stats(peers), "wall": time.perf_counter() - start}))


def run_agi_bench(
    handler_factory: Callable[[], Handler] | None = None,
    calls: int = 200,
    *,
    peer_factory: Callable[[int], AGIPeer] | None = None,
    reply_delay: float = 0.0,
    peer_process: bool | None = None,
) -> dict:
    """Run ``calls`` concurrent calls; return latency figures in milliseconds.

    ``handler_factory()`` returns the async handler to serve (default: a 10-command
    IVR). ``peer_factory(i)`` builds the fake Asterisk for call i; without it the
    default script is used for the default handler, and a permissive peer
    (``plausible_reply`` to every command) for a custom handler.
    """
    handler = handler_factory() if handler_factory else default_handler
    server_timings: list = []

    async def measured(session: AGISession) -> None:
        try:
            await handler(session)
        finally:
            server_timings.extend(session.timings)

    # The fake Asterisk runs in a child process by default so it does not compete with
    # the server for the GIL (a real PBX is a separate process too). A custom
    # peer_factory (closures are not picklable) runs in this process.
    mode = "script" if handler_factory is None else "auto"
    if peer_process is None:
        peer_process = peer_factory is None

    server = FastAGIServer(measured, port=0)
    host, port = server.start_in_thread()
    try:
        start = time.perf_counter()
        if peer_process and peer_factory is None:
            cmd = [sys.executable, str(Path(__file__).resolve()), "--peer-only", host, str(port)]
            cmd += [str(calls), str(reply_delay), mode]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600)
            peer_stats = json.loads(out.stdout)
        else:
            factory = peer_factory or _default_peer_factory(mode, reply_delay)
            peers = [factory(i) for i in range(calls)]
            asyncio.run(run_peers_async(host, port, peers))
            peer_stats = _peer_stats(peers)
        wall = peer_stats.get("wall") or time.perf_counter() - start
    finally:
        server.stop_thread()

    first, gaps, errors = peer_stats["first"], peer_stats["gaps"], peer_stats["errors"]
    rtt = [t.latency for t in server_timings]
    ms = 1000.0
    return {
        "calls": calls,
        "completed": peer_stats["completed"],
        "errors": errors[:10],
        "error_count": len(errors),
        "commands": peer_stats["commands"],
        "wall_s": wall,
        "calls_per_s": calls / wall if wall else float("inf"),
        "commands_per_s": peer_stats["commands"] / wall if wall else float("inf"),
        "peer_process": bool(peer_process and peer_factory is None),
        "added_p50_ms": _pct(gaps, 50) * ms,
        "added_p99_ms": _pct(gaps, 99) * ms,
        "added_max_ms": max(gaps, default=float("nan")) * ms,
        "added_mean_ms": (statistics.fmean(gaps) if gaps else float("nan")) * ms,
        "first_cmd_p50_ms": _pct(first, 50) * ms,
        "first_cmd_p99_ms": _pct(first, 99) * ms,
        "server_rtt_p50_ms": _pct(rtt, 50) * ms,
        "server_rtt_p99_ms": _pct(rtt, 99) * ms,
        "reply_delay_ms": reply_delay * ms,
    }


def format_report(r: dict) -> str:
    lines = [
        f"calls: {r['calls']} concurrent, completed {r['completed']}, errors {r['error_count']}",
        f"commands: {r['commands']} in {r['wall_s']:.3f}s -> {r['calls_per_s']:.0f} calls/s, "
        f"{r['commands_per_s']:.0f} commands/s (peer mean reply delay {r['reply_delay_ms']:.0f} ms, "
        f"peer in {'child process' if r['peer_process'] else 'same process'})",
        f"added latency per command (peer: reply sent -> next command): p50 {r['added_p50_ms']:.3f} ms, "
        f"p99 {r['added_p99_ms']:.3f} ms, max {r['added_max_ms']:.3f} ms, mean {r['added_mean_ms']:.3f} ms",
        f"first command after header: p50 {r['first_cmd_p50_ms']:.3f} ms, p99 {r['first_cmd_p99_ms']:.3f} ms",
        f"server round trip (write -> reply, includes peer): p50 {r['server_rtt_p50_ms']:.3f} ms, "
        f"p99 {r['server_rtt_p99_ms']:.3f} ms",
    ]
    if r["errors"]:
        lines.append(f"first errors: {r['errors']}")
    verdict = "PASS" if r["added_p99_ms"] < 5.0 and r["completed"] == r["calls"] else "FAIL"
    lines.append(f"goal (all calls complete, p99 added < 5 ms): {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument(
        "--reply-delay-ms",
        type=float,
        default=0.0,
        help="fake Asterisk waits this long before each reply (prompt playback); 0 = worst case",
    )
    parser.add_argument("--in-process", action="store_true", help="run the fake Asterisk in this process")
    parser.add_argument(
        "--peer-only", nargs=5, metavar=("HOST", "PORT", "CALLS", "DELAY_S", "MODE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.peer_only:
        host, port, calls, delay, mode = args.peer_only
        _peer_only(host, int(port), int(calls), float(delay), mode)
        return 0
    report = run_agi_bench(
        calls=args.calls, reply_delay=args.reply_delay_ms / 1000.0, peer_process=not args.in_process
    )
    print(format_report(report))
    return 0 if report["completed"] == report["calls"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
