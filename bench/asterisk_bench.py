"""FastAGI through a real Asterisk: added latency per AGI command, from Asterisk's own timestamps.

Starts the shared Asterisk 22 build (HOTLINE_ASTERISK_ROOT, or ../shared/asterisk/ unpacked into a
temporary directory) with deploy/asterisk/*.conf and `agi set debug on`, and the hotline FastAGI
server in a process of its own (SQLite demo database unless CALLCENTER_DATABASE_URL is set, the
contracts' office hours on the bench's clock). Callers are Local channels placed with call files;
their dialplan waits, presses a menu key while the menu plays, then stays on the line a while:
menu 1 (critical ticket, read back, queue with nobody free: hold slices), 2 (a voice message ended
by hanging up), 3 (a ticket number) and 5 (refused), in turn.

Added latency = from Asterisk writing a reply ("AGI Tx >>") to it reading the next command
("AGI Rx <<") on the same channel: what the hotline adds to each step of a call. The first command
of a call (after the header) is counted apart. Runs: 100, 300 and 500 calls arriving over 10 s, 60 at once.
Goals (issue 13/14): no failed call; p99 < 5 ms spread (< 2 ms at 500 calls), < 20 ms all at once;
the first call after a start < 20 ms.

Usage: ``python bench/asterisk_bench.py [--runs 100/10,300/10,500/10,60/0]``
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "tests", ROOT / "tests" / "asterisk"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from pbx import AsteriskMissing, AsteriskPBX, CallFile, find_asterisk, free_port  # noqa: E402

IN_HOURS = datetime(2026, 10, 6, 8, 0, tzinfo=UTC)
CALLERS = ["+3615550101", "+302105550102"]
# menu key, seconds on the line after it
SCRIPTS = [("1", 12), ("2", 6), ("3", 8), ("5", 4)]
BENCH_CONTEXT = """
[bench-caller]
exten => s,1,Wait(${BENCH_DELAY})
 same => n,SendDTMF(${BENCH_KEYS})
 same => n,Wait(${BENCH_STAY})
 same => n,Hangup()

[test-phone]
exten => _X.,1,Answer()
 same => n,Wait(1)
 same => n,Hangup()
exten => _+X.,1,Goto(test-phone,${EXTEN:1},1)
"""
LINE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\].*?"
                  r"<(Local/s@hotline-[0-9a-f]+;2)>AGI (Tx >>|Rx <<) (.*)$")

SERVER = """
import sys, time
from datetime import UTC, datetime, timedelta
from callcenter.config import load_settings
from callcenter.db import make_engine
from callcenter.runtime import tune_interpreter
from callcenter.wiring import load_services
from webhooks.agi_server import FastAGIServer
from webhooks.fastagi import HotlineAGI
start, t0 = datetime(2026, 10, 6, 8, 0, tzinfo=UTC), time.monotonic()
load_services()
settings = load_settings()
tune_interpreter(settings)
clock = lambda: start + timedelta(seconds=time.monotonic() - t0)
agi = HotlineAGI(settings, make_engine(settings.database_url), clock=clock)
agi.warm_up()
FastAGIServer(agi, settings.agi_host, settings.agi_port, max_sessions=settings.agi_max_sessions).run()
"""


def _cpu(pid: int) -> float:
    """Seconds of CPU (user + system) process `pid` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _goal(n: int, spread: float) -> float:
    """p99 goal (ms) for a run: issue 13 (spread, at once) and issue 14's row (500 calls)."""
    if not spread:
        return 20.0
    return 2.0 if n >= 500 else 5.0


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))] if ordered else float("nan")


def setup(tmp: Path) -> dict[str, str]:
    from callcenter.config import load_settings
    from callcenter.db import make_engine, make_session_factory, session_scope
    from callcenter.demo import seed_demo
    from callcenter.ivr.flow import load_flow
    from callcenter.ivr.prompts import build_prompts
    from callcenter.migrate import upgrade

    url = os.environ.get("CALLCENTER_DATABASE_URL") or f"sqlite:///{tmp}/bench.sqlite"
    upgrade(url)
    settings = load_settings(env={"CALLCENTER_DATABASE_URL": url})
    engine = make_engine(url)
    with session_scope(make_session_factory(engine, settings)) as session:
        seed_demo(session, IN_HOURS)
    engine.dispose()
    prompts = ROOT / "var" / "test-prompts"
    build_prompts(load_flow("hotline"), prompts)
    return {"CALLCENTER_DATABASE_URL": url, "CALLCENTER_PROMPTS_DIR": str(prompts),
            "CALLCENTER_RECORDINGS_DIR": str(tmp / "recordings"), "CALLCENTER_ASTERISK_AGENT_DIAL": "",
            "CALLCENTER_ASTERISK_DIAL": "Local/{number}@test-phone", "CALLCENTER_ASTERISK_HOLD_SECONDS": "5"}


def start_server(env: dict[str, str], port: int) -> subprocess.Popen:
    full = {**os.environ, **env, "CALLCENTER_AGI_PORT": str(port), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", SERVER], env=full, cwd=ROOT)
    import socket

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the FastAGI server did not start")


def place(pbx: AsteriskPBX, n: int, spread: float, tag: str) -> None:
    start = time.monotonic()
    for i in range(n):
        if spread:
            time.sleep(max(0.0, start + spread * i / n - time.monotonic()))
        key, stay = SCRIPTS[i % len(SCRIPTS)]
        keys = key if key != "3" else "3"
        pbx.originate(CallFile("Local/s@hotline", "bench-caller", callerid=f'"Bench" <{CALLERS[i % 2]}>',
                               variables={"BENCH_DELAY": "11", "BENCH_KEYS": keys, "BENCH_STAY": str(stay)},
                               wait_seconds=60), f"{tag}-{i}")


def wait_idle(pbx: AsteriskPBX, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    time.sleep(5)
    while time.monotonic() < deadline:
        if pbx.active_channels() == 0:
            return
        time.sleep(1)
    print(f"  (still {pbx.active_channels()} channels after {timeout:.0f} s)")


def latencies(log: str, by_kind: dict[str, list[float]] | None = None) -> tuple[list[float], list[float], set[str]]:
    """Added latency per command (ms) and per call's first command, from the AGI debug lines; `by_kind`
    collects them by what the previous reply answered (the turn that followed it), to find the tail."""
    last_tx: dict[str, datetime] = {}
    last_kind: dict[str, str] = {}
    sent: dict[str, str] = {}
    header_end: dict[str, datetime] = {}
    seen_rx: set[str] = set()
    added, first = [], []
    for line in log.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        at = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f")
        chan, direction, text = m.group(2), m.group(3), m.group(4)
        if direction == "Tx >>":
            if text.startswith("agi_"):
                header_end[chan] = at
            elif not text.startswith("HANGUP"):
                last_tx[chan] = at
                last_kind[chan] = sent.get(chan, "?")
            continue
        words = text.split()
        sent[chan] = " ".join(words[:2] + [Path(words[2]).name] if words[:2] in (["GET", "DATA"], ["STREAM", "FILE"])
                              and len(words) > 2 else words[:2])
        if chan not in seen_rx:
            seen_rx.add(chan)
            if chan in header_end:
                first.append((at - header_end[chan]).total_seconds() * 1000)
        elif chan in last_tx:
            ms = (at - last_tx.pop(chan)).total_seconds() * 1000
            added.append(ms)
            if by_kind is not None:
                by_kind.setdefault(f"{last_kind.get(chan, '?')} -> {sent[chan]}", []).append(ms)
    return added, first, seen_rx


def calls_summary(url: str, since: int) -> tuple[int, dict[str, int]]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT outcome, ended_at FROM calls WHERE id > :i"), {"i": since}).all()
        last = conn.execute(text("SELECT coalesce(max(id), 0) FROM calls")).scalar()
    engine.dispose()
    outcomes: dict[str, int] = {}
    for outcome, ended in rows:
        key = outcome if ended is not None else f"{outcome} (not ended)"
        outcomes[key] = outcomes.get(key, 0) + 1
    return last, outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="100/10,300/10,500/10,60/0", help="calls/seconds-spread, comma-separated")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="asterisk-bench-"))
    try:
        root = find_asterisk(tmp / "tree")
    except AsteriskMissing as exc:
        print(f"asterisk_bench: {exc}")
        return 2
    env = setup(tmp)
    port = free_port()
    pbx = AsteriskPBX(root, tmp / "home", local_extensions=(
        f"[globals]\nHOTLINE_AGI=agi://127.0.0.1:{port}/hotline\n" + BENCH_CONTEXT))
    pbx.start()
    server = None
    try:
        pbx.cli("agi set debug on")
        with open(pbx.etc / "logger.conf", "w", encoding="utf-8") as fh:
            fh.write("[general]\ndateformat = %F %T.%6q\n[logfiles]\nfull.log => notice,warning,error,verbose\n")
        pbx.cli("logger reload")
        server = start_server(env, port)
        last_id = 0
        print(f"Asterisk {pbx.cli('core show version').split()[1]} (Local channels), FastAGI hotline in its own "
              f"process, database {env['CALLCENTER_DATABASE_URL'].split(':')[0]}")
        # The first call after the server started.
        offset = len(pbx.log_text())
        place(pbx, 1, 0, "first")
        wait_idle(pbx, 60)
        _, first, _ = latencies(pbx.log_text()[offset:])
        last_id, outcomes = calls_summary(env["CALLCENTER_DATABASE_URL"], last_id)
        first_ms = first[0] if first else float("nan")
        verdicts = [("first call", first_ms < 20)]
        print(f"first call after start: first command {first_ms:.2f} ms (goal < 20 ms); {outcomes}; load {_load()}")
        for run in args.runs.split(","):
            n, spread = (float(x) for x in run.split("/"))
            offset = len(pbx.log_text())
            began, cpu = time.monotonic(), _cpu(server.pid)
            place(pbx, int(n), spread, f"r{run.replace('/', '-')}")
            wait_idle(pbx, 300)
            took, cpu = time.monotonic() - began, _cpu(server.pid) - cpu
            by_kind: dict[str, list[float]] = {}
            added, first, chans = latencies(pbx.log_text()[offset:], by_kind)
            last_id, outcomes = calls_summary(env["CALLCENTER_DATABASE_URL"], last_id)
            failed = int(n) - sum(v for k, v in outcomes.items() if "not ended" not in k and k != "emergency_route")
            how = f"over {spread:.0f} s" if spread else "at once"
            print(f"{int(n)} calls {how} ({took:.0f} s): {len(added)} commands, added latency p50 "
                  f"{_pct(added, 50):.2f} ms, p99 {_pct(added, 99):.2f} ms, max {max(added, default=0):.2f} ms; "
                  f"first command p50 {_pct(first, 50):.2f} / p99 {_pct(first, 99):.2f} ms; "
                  f"AGI channels {len(chans)}, failed calls {failed}; outcomes {outcomes}")
            goal = _goal(int(n), spread)
            p99 = _pct(added, 99)
            verdicts.append((f"{int(n)}/{spread:.0f}s", failed == 0 and p99 < goal))
            per_command = cpu * 1000 / max(1, len(added))
            print(f"   server CPU {cpu * 1000 / max(1, n):.1f} ms per call ({per_command:.2f} ms per command); "
                  f"load {_load()}; goal p99 < {goal:.0f} ms, no failed call: "
                  f"{'PASS' if verdicts[-1][1] else 'FAIL'}")
            if added:
                print(f"   mean {statistics.mean(added):.2f} ms; slowest turns (reply -> next command):")
                for kind, values in sorted(by_kind.items(), key=lambda kv: -_pct(kv[1], 99))[:4]:
                    print(f"     {kind}: {len(values)} replies, p50 {_pct(values, 50):.2f} ms, "
                          f"p99 {_pct(values, 99):.2f} ms")
        print(f"verdict: {'PASS' if all(ok for _, ok in verdicts) else 'FAIL'} "
              f"({', '.join(f'{name} {chr(10003) if ok else chr(10007)}' for name, ok in verdicts)}); load {_load()}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=15)
        pbx.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
