"""/twilio/voice against a bare Flask app answering constant TwiML, side by side on the same server.

Both apps sit behind one waitress server (same threads, the same in-process client threads): a bare
`Flask()` with one POST route returning a constant TwiML document, and the Hotline app, where every
request is a new signed call from Kovács Anna (signature check, caller identification, the call's
row committed, TwiML). Rounds alternate bare / voice / bare / voice, so a machine that gets busier or
quieter during the run affects both. Run on SQLite (a fresh file) and, when it answers, PostgreSQL (a
fresh database, dropped afterwards). Goal: /twilio/voice keeps at least 80 % of the bare app's
requests per second, with p99 under 30 ms, on both. Besides each endpoint's process CPU per request
(server and clients), it prints the CPU spent inside each app (thread CPU time around the WSGI call).

Usage: ``python bench/voice_bench.py [--requests 2000] [--clients 8] [--rounds 2] [--sqlite-only]``
    BENCH_PG_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres  (default)
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import requests  # noqa: E402
from fake_twilio import compute_signature  # noqa: E402
from hotline_bench import ANNA, BARE_TWIML, IN_HOURS, TOKEN, _pct  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from waitress.server import create_server  # noqa: E402

PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
THREADS = 8
GOAL_SHARE, GOAL_P99_MS = 0.80, 30.0


def hotline_app(url: str):  # noqa: ANN201
    from callcenter.app import create_app
    from callcenter.config import load_settings
    from callcenter.db import make_engine, make_session_factory, session_scope
    from callcenter.demo import seed_demo
    from callcenter.migrate import upgrade

    settings = load_settings(env={"CALLCENTER_DATABASE_URL": url})
    settings.recordings_dir = tempfile.mkdtemp()
    settings.twilio_auth_token = TOKEN
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    with session_scope(make_session_factory(engine)) as session:
        seed_demo(session, IN_HOURS)
    app = create_app(settings, engine)
    app.config["HOTLINE_CLOCK"] = lambda: IN_HOURS
    return app, settings, engine


def bare_app():  # noqa: ANN201
    from flask import Flask, Response

    bare = Flask("bare")

    @bare.post("/bare")
    def constant():  # noqa: ANN202
        return Response(BARE_TWIML, mimetype="text/xml")

    return bare


APP_CPU: dict[str, list[float]] = {"bare": [0.0, 0], "voice": [0.0, 0]}  # thread CPU in the app, requests
_app_cpu_lock = threading.Lock()


def dispatcher(bare, hotline):  # noqa: ANN001, ANN201
    """One WSGI server for both: /bare to the bare app, everything else to Hotline. Each request's CPU
    inside the app (its thread's CPU time, without waitress and the clients) is added up per app."""
    def app(environ, start_response):  # noqa: ANN001, ANN202
        name, target = ("bare", bare) if environ.get("PATH_INFO") == "/bare" else ("voice", hotline)
        started = time.thread_time()
        body = list(target(environ, start_response))  # both apps answer a small body: read it here
        spent = time.thread_time() - started
        with _app_cpu_lock:
            APP_CPU[name][0] += spent
            APP_CPU[name][1] += 1
        return body

    return app


def _app_cpu_reset() -> None:
    with _app_cpu_lock:
        for totals in APP_CPU.values():
            totals[:] = [0.0, 0]


def run_round(base: str, path: str, signed: bool, per_client: int, clients: int) -> dict:
    def prepare() -> list[tuple[str, dict, dict]]:
        # Signed before the clock starts: signing is Twilio's work, not the endpoint's.
        out = []
        for _ in range(per_client):
            params = {"CallSid": "CA" + uuid.uuid4().hex, "From": ANNA, "To": "+3615550100", "CallStatus": "ringing",
                      "Direction": "inbound", "AccountSid": "AC" + "0" * 32}
            headers = {"X-Twilio-Signature": compute_signature(TOKEN, base + path, params)} if signed else {}
            out.append((base + path, params, headers))
        return out

    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def client(batch: list[tuple[str, dict, dict]]) -> None:
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
    start, cpu = time.perf_counter(), time.process_time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    # Server and clients share this process: its CPU per request is what one request costs in all,
    # which a busy machine inflates far less than the wall clock.
    return {"rps": len(latencies) / wall, "latencies": latencies, "failures": failures,
            "cpu": (time.process_time() - cpu) / max(1, len(latencies))}


def bench_database(label: str, url: str, args: argparse.Namespace) -> bool:
    app, settings, engine = hotline_app(url)
    server = create_server(dispatcher(bare_app(), app), host="127.0.0.1", port=0, threads=THREADS, ident="bench")
    base = f"http://127.0.0.1:{server.socket.getsockname()[1]}"
    settings.public_url = base

    def serve() -> None:
        try:
            server.run()
        except OSError:
            pass  # close() pulls the socket from under select() at the end

    threading.Thread(target=serve, daemon=True).start()
    per_client = max(1, args.requests // args.clients)
    try:
        run_round(base, "/twilio/voice", True, 25, args.clients)  # warm up: statements, caches, TwiML
        run_round(base, "/bare", False, 25, args.clients)
        _app_cpu_reset()
        bare, voice = [], []
        for _ in range(args.rounds):
            bare.append(run_round(base, "/bare", False, per_client, args.clients))
            voice.append(run_round(base, "/twilio/voice", True, per_client, args.clients))
    finally:
        server.task_dispatcher.shutdown()
        server.close()
        engine.dispose()
    bare_rps = statistics.fmean(r["rps"] for r in bare)
    voice_rps = statistics.fmean(r["rps"] for r in voice)
    bare_lat = [x for r in bare for x in r["latencies"]]
    voice_lat = [x for r in voice for x in r["latencies"]]
    failures = [f for r in voice + bare for f in r["failures"]]
    share, p99 = voice_rps / bare_rps, _pct(voice_lat, 99) * 1000
    print(f"\n== {label}: waitress, {THREADS} threads, {args.clients} client threads in the same process, "
          f"{args.rounds} rounds of {per_client * args.clients} requests each")
    for name, rps, lat, rounds in (("bare Flask", bare_rps, bare_lat, bare),
                                   ("/twilio/voice", voice_rps, voice_lat, voice)):
        per_round = ", ".join(f"{r['rps']:.0f}" for r in rounds)
        cpu = statistics.fmean(r["cpu"] for r in rounds) * 1000
        print(f"{name:14s} {rps:8.0f} req/s  p50 {_pct(lat, 50) * 1000:6.2f} ms  p99 {_pct(lat, 99) * 1000:6.2f} ms  "
              f"CPU {cpu:.2f} ms/req (rounds: {per_round})")
    app_cpu = {name: total / max(1, count) * 1000 for name, (total, count) in APP_CPU.items()}
    print(f"inside the app (thread CPU, without waitress and clients): bare {app_cpu['bare']:.2f} ms/req, "
          f"/twilio/voice {app_cpu['voice']:.2f} ms/req")
    ok = share >= GOAL_SHARE and p99 < GOAL_P99_MS and not failures
    print(f"{label}: /twilio/voice keeps {share:.0%} of the bare app's throughput, p99 {p99:.1f} ms"
          + (f", {len(failures)} failures {failures[:2]}" if failures else "")
          + f"; goal (>= {GOAL_SHARE:.0%}, p99 < {GOAL_P99_MS:.0f} ms): {'PASS' if ok else 'FAIL'}"
          + f"; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per round and endpoint")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" is the load we asked for
    from callcenter.config import load_settings
    from callcenter.runtime import tune_interpreter

    tune_interpreter(load_settings(env={}))  # as `callcenter web` does once started
    print(f"switch interval {sys.getswitchinterval() * 1000:.1f} ms, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    results = [bench_database("SQLite", f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite", args)]
    if not args.sqlite_only:
        admin = make_url(PG_ADMIN_URL)
        name = f"hotline_voice_{uuid.uuid4().hex[:8]}"
        admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        try:
            with admin_engine.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as exc:  # no PostgreSQL here: say so, the SQLite figure stands
            print(f"\nPostgreSQL not reachable ({type(exc).__name__}): skipped")
        else:
            try:
                url = admin.set(database=name).render_as_string(hide_password=False)
                results.append(bench_database("PostgreSQL", url, args))
            finally:
                with admin_engine.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
