"""Hotline bench: the /twilio/voice webhook vs a bare constant-TwiML endpoint, and FastAGI under 200 calls.

1. Web: both endpoints on the same Flask app under the same waitress server (in a thread); client
   threads POST for a fixed number of requests each. /twilio/voice requests are signed and each is
   a new call from Kovács Anna (signature check, caller identification, call row, TwiML).
   Goal: at least half the bare endpoint's requests/s, p99 under 50 ms.
2. FastAGI: 200 concurrent scripted calls running the real hotline flow (menu 1: critical ticket,
   queue, no answer, voice message) via bench/agi_bench.run_agi_bench. The fake Asterisk, in a child
   process, takes the time a PBX takes (prompts play, callers think, leave messages; about 4x faster
   than life) and the calls arrive over 10 s, so that all 200 are in progress at once. Goal: p99
   added latency per command under 5 ms. For comparison it then floods the server: 200 calls at
   once, every reply instant (there, latency is queueing for the CPU, not a per-command cost).

Uses a fresh SQLite file database with the demo data unless CALLCENTER_DATABASE_URL is set.
Usage: ``python bench/hotline_bench.py [--requests 2000] [--clients 8] [--calls 200 | --calls 0] [--agi-only]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "tests", ROOT / "bench"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import requests  # noqa: E402
from agi_bench import format_report, run_agi_bench  # noqa: E402
from fake_twilio import compute_signature  # noqa: E402
from waitress.server import create_server  # noqa: E402

IN_HOURS = datetime(2026, 10, 6, 8, 0, tzinfo=UTC)
ANNA = "+3615550101"
TOKEN = "bench-auth-token"
BARE_TWIML = ('<?xml version="1.0" encoding="UTF-8"?><Response><Say language="en-US">Hello</Say>'
              '<Hangup /></Response>')


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def setup_database() -> tuple[object, object]:
    from callcenter.config import load_settings
    from callcenter.db import make_engine, make_session_factory, session_scope
    from callcenter.demo import seed_demo
    from callcenter.migrate import upgrade

    url = os.environ.get("CALLCENTER_DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite"
    settings = load_settings(env={"CALLCENTER_DATABASE_URL": url})
    settings.recordings_dir = tempfile.mkdtemp()
    settings.twilio_auth_token = TOKEN
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    with session_scope(make_session_factory(engine)) as session:
        seed_demo(session, IN_HOURS)
    return settings, engine


def web_bench(settings, engine, requests_per_client: int, clients: int) -> dict:  # noqa: ANN001
    from flask import Response

    from callcenter.app import create_app

    app = create_app(settings, engine)
    app.config["HOTLINE_CLOCK"] = lambda: IN_HOURS

    @app.post("/bench/bare")
    def bare():  # noqa: ANN202
        return Response(BARE_TWIML, mimetype="text/xml")

    server = create_server(app, host="127.0.0.1", port=0, threads=8, ident="bench")
    port = server.socket.getsockname()[1]
    settings.public_url = f"http://127.0.0.1:{port}"
    def serve() -> None:
        try:
            server.run()
        except OSError:
            pass  # close() pulls the socket from under select() at the end of the bench

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    results = {}
    try:
        for name, path, signed in (("bare", "/bench/bare", False), ("voice", "/twilio/voice", True),
                                   ("bare (again)", "/bench/bare", False)):
            latencies: list[float] = []
            failures: list[str] = []
            lock = threading.Lock()

            def prepare(path: str = path, signed: bool = signed) -> list[tuple[str, dict, dict]]:
                # Built before the clock starts: signing is Twilio's work, not the endpoint's.
                out = []
                for _ in range(requests_per_client):
                    params = {"CallSid": "CA" + uuid.uuid4().hex, "From": ANNA, "To": "+3615550100",
                              "CallStatus": "ringing", "Direction": "inbound", "AccountSid": "AC" + "0" * 32}
                    url = settings.public_url + path
                    headers = {"X-Twilio-Signature": compute_signature(TOKEN, url, params)} if signed else {}
                    out.append((url, params, headers))
                return out

            def client(batch: list[tuple[str, dict, dict]], signed: bool = signed,
                       latencies: list[float] = latencies, failures: list[str] = failures,
                       lock: threading.Lock = lock) -> None:
                http = requests.Session()
                http.trust_env = False
                mine = []
                for url, params, headers in batch:
                    start = time.perf_counter()
                    resp = http.post(url, data=params, headers=headers, timeout=30)
                    mine.append(time.perf_counter() - start)
                    if resp.status_code != 200 or "<Response>" not in resp.text:
                        failures.append(f"{resp.status_code} {resp.text[:80]}")
                    elif signed and "<Dial" in resp.text:
                        failures.append("emergency route answered: the database failed")
                with lock:
                    latencies.extend(mine)

            threads = [threading.Thread(target=client, args=(prepare(),)) for _ in range(clients)]
            start = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - start
            results[name] = {"requests": len(latencies), "rps": len(latencies) / wall,
                             "p50_ms": _pct(latencies, 50) * 1000, "p99_ms": _pct(latencies, 99) * 1000,
                             "mean_ms": statistics.fmean(latencies) * 1000, "failures": failures[:3],
                             "failure_count": len(failures)}
    finally:
        server.task_dispatcher.shutdown()  # let the last responses go out before the sockets close
        server.close()
    return results


WARM_UP_CALLS = 50


def agi_bench(settings, engine, calls: int, *, paced: bool, ramp_s: float) -> dict:  # noqa: ANN001
    from webhooks.fastagi import HotlineAGI

    settings.asterisk_agent_dial = ""  # the flow's Queue() step, not agent distribution
    handler = HotlineAGI(settings, engine, clock=lambda: IN_HOURS)
    # A server that has taken a few calls (statements compiled, caches filled), as in production;
    # these calls are not counted.
    run_agi_bench(handler_factory=lambda: handler, calls=WARM_UP_CALLS, hotline_caller=ANNA, paced=True,
                  ramp_s=2.0)
    # The fake Asterisk runs in a child process, as a PBX would: it does not share our GIL.
    return run_agi_bench(handler_factory=lambda: handler, calls=calls, hotline_caller=ANNA, paced=paced,
                         ramp_s=ramp_s)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per endpoint")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--calls", type=int, default=200, help="FastAGI calls (0: skip the FastAGI part)")
    parser.add_argument("--agi-only", action="store_true", help="skip the web part")
    parser.add_argument("--ramp", type=float, default=10.0, help="FastAGI calls arrive over this many seconds")
    args = parser.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" is the load we asked for
    settings, engine = setup_database()
    from callcenter.runtime import tune_interpreter

    tune_interpreter(settings)  # as `callcenter web`, `agi` and `serve` do once started
    print(f"database: {engine.url.render_as_string(hide_password=True)}, "
          f"switch interval {sys.getswitchinterval() * 1000:.1f} ms")
    if not args.agi_only:
        web = web_bench(settings, engine, max(1, args.requests // args.clients), args.clients)
        print(f"\n== Web, waitress (8 threads), {args.clients} client threads, same process")
        for name, r in web.items():
            print(f"{name:13s} {r['requests']:6d} req  {r['rps']:8.0f} req/s  p50 {r['p50_ms']:7.2f} ms  "
                  f"p99 {r['p99_ms']:7.2f} ms  mean {r['mean_ms']:7.2f} ms  failures {r['failure_count']}"
                  + (f" {r['failures']}" if r["failures"] else ""))
        bare_rps = min(web["bare"]["rps"], web["bare (again)"]["rps"])
        voice = web["voice"]
        ok = voice["rps"] >= 0.8 * bare_rps and voice["p99_ms"] < 30 and voice["failure_count"] == 0
        print(f"/twilio/voice keeps {voice['rps'] / bare_rps:.0%} of the bare endpoint's throughput; "
              f"goal (>= 80 %, p99 < 30 ms; bench/voice_bench.py measures it against a bare Flask app): "
              f"{'PASS' if ok else 'FAIL'}")
    if args.calls > 0 and not args.agi_only:
        # The FastAGI server gets a process of its own, as `callcenter agi` does: the web part's
        # threads and garbage are not its load.
        engine.dispose()
        sys.stdout.flush()
        cmd = [sys.executable, __file__, "--agi-only", "--calls", str(args.calls), "--ramp", str(args.ramp)]
        return subprocess.run(cmd, check=False).returncode
    if args.calls > 0:
        print(f"\n== FastAGI, {args.calls} concurrent calls through the real hotline flow, Asterisk's timing "
              f"(the goal)")
        print(format_report(agi_bench(settings, engine, args.calls, paced=True, ramp_s=args.ramp)))
        print(f"\n== FastAGI stress: {args.calls} calls at once, every reply instant (a flood, not a goal)")
        print(format_report(agi_bench(settings, engine, args.calls, paced=False, ramp_s=0.0)).replace(
            "goal (all calls complete, p99 added < 5 ms)", "(for comparison) p99 added < 5 ms"))
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
