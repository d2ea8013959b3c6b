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

from agi_peer import AGIPeer, Step, expect, plausible_reply  # noqa: E402

from webhooks.agi_server import FastAGIServer  # noqa: E402
from webhooks.agi_session import AGISession, Handler  # noqa: E402

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


# What a real Asterisk spends on each command before it replies, scaled down about 4x so that a run
# takes seconds: prompts play, callers think before pressing a key, leave messages, wait in the queue.
# (low, high) seconds, drawn uniformly; commands not listed answer at once (ANSWER, variables, HANGUP).
ASTERISK_SECONDS: dict[str, tuple[float, float]] = {
    "STREAM FILE": (0.4, 1.6),
    "CONTROL STREAM": (0.4, 1.6),
    "SAY DIGITS": (0.8, 2.0),
    "SAY NUMBER": (0.4, 1.0),
    "GET DATA": (1.0, 3.0),
    "RECORD FILE": (2.0, 5.0),
    "EXEC QUEUE": (2.0, 5.0),
    "EXEC DIAL": (1.0, 4.0),
    "WAIT FOR DIGIT": (0.5, 2.0),
}


def asterisk_seconds(line: str, rng: random.Random) -> float:
    words = " ".join(line.split()[:2]).upper()
    span = ASTERISK_SECONDS.get(words)
    return rng.uniform(*span) if span else 0.0


def paced_reply(rng: random.Random) -> Callable[[str], object]:
    """``plausible_reply``, after the time Asterisk would take to carry the command out."""

    async def reply(line: str) -> str:
        delay = asterisk_seconds(line, rng)
        if delay:
            await asyncio.sleep(delay)
        return plausible_reply(line)

    return reply


def hotline_peers(calls: int, callerid: str, paced: bool, seed: int = 7) -> list[AGIPeer]:
    """Callers of the real hotline flow: ``plausible_reply`` presses 1 (critical fault), nobody answers
    the queue, each leaves a voice message."""
    peers = []
    for i in range(calls):
        reply = paced_reply(random.Random(seed * 100_003 + i)) if paced else plausible_reply
        peers.append(AGIPeer([], callerid=callerid, uniqueid=f"bench.{seed}.{i}", script="hotline",
                             auto_reply=reply, io_timeout=120))
    return peers


async def run_ramped(host: str, port: int, peers: list[AGIPeer], ramp_s: float) -> int:
    """Start the calls evenly over ``ramp_s`` seconds (as calls arrive at a PBX); the peak number of calls
    in progress at once."""
    active = peak = 0

    async def one(i: int, peer: AGIPeer) -> None:
        nonlocal active, peak
        if ramp_s:
            await asyncio.sleep(ramp_s * i / len(peers))
        active += 1
        peak = max(peak, active)
        try:
            await peer.run(host, port)
        finally:
            active -= 1

    await asyncio.gather(*(one(i, p) for i, p in enumerate(peers)))
    return peak


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
    by_command: dict[str, list[float]] = {}
    errors: list[str] = []
    for peer in peers:
        peer_gaps = peer.gaps()
        if peer_gaps:
            first.append(peer_gaps[0])
            gaps.extend(peer_gaps[1:])
            # Which command arrived after each gap, and what the one before it was.
            for (line, _), (before, _), gap in zip(peer.transcript[1:], peer.transcript, peer_gaps[1:], strict=False):
                after_what = " ".join(before.split()[:2]) + " -> " + " ".join(line.split()[:2])
                by_command.setdefault(after_what, []).append(gap)
        errors.extend(peer.errors)
        if not peer.server_closed:
            errors.append("server did not close the connection")
    return {
        "first": first,
        "gaps": gaps,
        "errors": errors,
        "slowest": sorted(((k, _pct(v, 99), len(v)) for k, v in by_command.items()), key=lambda t: -t[1])[:5],
        "completed": sum(1 for p in peers if not p.errors and p.server_closed),
        "commands": sum(len(p.transcript) for p in peers),
    }


def _peer_only(host: str, port: int, spec: dict) -> None:
    if spec["mode"] == "hotline":
        peers = hotline_peers(spec["calls"], spec["callerid"], spec["paced"])
    else:
        factory = _default_peer_factory(spec["mode"], spec["reply_delay"])
        peers = [factory(i) for i in range(spec["calls"])]
    start = time.perf_counter()
    peak = asyncio.run(run_ramped(host, port, peers, spec.get("ramp_s", 0.0)))
    # Own wall clock: the parent's would include this interpreter's start-up.
    print(json.dumps({**_peer_stats(peers), "wall": time.perf_counter() - start, "peak": peak}))


def run_agi_bench(
    handler_factory: Callable[[], Handler] | None = None,
    calls: int = 200,
    *,
    peer_factory: Callable[[int], AGIPeer] | None = None,
    reply_delay: float = 0.0,
    peer_process: bool | None = None,
    hotline_caller: str | None = None,
    paced: bool = False,
    ramp_s: float = 0.0,
) -> dict:
    """Run ``calls`` concurrent calls; return latency figures in milliseconds.

    ``handler_factory()`` returns the async handler to serve (default: a 10-command
    IVR). ``peer_factory(i)`` builds the fake Asterisk for call i; without it the
    default script is used for the default handler, and a permissive peer
    (``plausible_reply`` to every command) for a custom handler. ``hotline_caller`` runs
    ``hotline_peers`` in the child process instead; ``paced`` gives them Asterisk's timing, and
    ``ramp_s`` spreads the calls' arrivals.
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
    mode = "hotline" if hotline_caller else "script" if handler_factory is None else "auto"
    if peer_process is None:
        peer_process = peer_factory is None

    server = FastAGIServer(measured, port=0)
    host, port = server.start_in_thread()
    try:
        start = time.perf_counter()
        if peer_process and peer_factory is None:
            spec = {"mode": mode, "calls": calls, "reply_delay": reply_delay, "callerid": hotline_caller,
                    "paced": paced, "ramp_s": ramp_s}
            cmd = [sys.executable, str(Path(__file__).resolve()), "--peer-only", host, str(port), json.dumps(spec)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=900)
            peer_stats = json.loads(out.stdout)
        else:
            factory = peer_factory or _default_peer_factory(mode, reply_delay)
            peers = [factory(i) for i in range(calls)]
            peak = asyncio.run(run_ramped(host, port, peers, ramp_s))
            peer_stats = {**_peer_stats(peers), "peak": peak}
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
        "paced": paced,
        "ramp_s": ramp_s,
        "peak_concurrent": peer_stats.get("peak", calls),
        "slowest": [(k, p99 * ms, n) for k, p99, n in peer_stats.get("slowest", [])],
    }


def format_report(r: dict) -> str:
    lines = [
        f"calls: {r['calls']} concurrent, completed {r['completed']}, errors {r['error_count']}",
        f"commands: {r['commands']} in {r['wall_s']:.3f}s -> {r['calls_per_s']:.0f} calls/s, "
        f"{r['commands_per_s']:.0f} commands/s, peak {r['peak_concurrent']} calls in progress at once "
        f"(fake Asterisk in {'a child process' if r['peer_process'] else 'this process'}; "
        + ("Asterisk's timing, scaled; " if r["paced"] else f"mean reply delay {r['reply_delay_ms']:.0f} ms; ")
        + f"arrivals over {r['ramp_s']:.0f} s)",
        f"added latency per command (peer: reply sent -> next command): p50 {r['added_p50_ms']:.3f} ms, "
        f"p99 {r['added_p99_ms']:.3f} ms, max {r['added_max_ms']:.3f} ms, mean {r['added_mean_ms']:.3f} ms",
        f"first command after header: p50 {r['first_cmd_p50_ms']:.3f} ms, p99 {r['first_cmd_p99_ms']:.3f} ms",
        f"server round trip (write -> reply, includes peer): p50 {r['server_rtt_p50_ms']:.3f} ms, "
        f"p99 {r['server_rtt_p99_ms']:.3f} ms",
    ]
    if r["slowest"]:
        lines.append("slowest steps, p99 added latency: " + "; ".join(
            f"{name} {p99:.1f} ms ({n}x)" for name, p99, n in r["slowest"][:3]))
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
    parser.add_argument("--peer-only", nargs=3, metavar=("HOST", "PORT", "SPEC"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.peer_only:
        host, port, spec = args.peer_only
        _peer_only(host, int(port), json.loads(spec))
        return 0
    report = run_agi_bench(
        calls=args.calls, reply_delay=args.reply_delay_ms / 1000.0, peer_process=not args.in_process
    )
    print(format_report(report))
    return 0 if report["completed"] == report["calls"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
