"""Paging bench: issue 14's two paging goals, side by side on SQLite and PostgreSQL, with real worker processes.

    .venv/bin/python bench/paging_bench.py                 # SQLite, and PostgreSQL when one answers
    .venv/bin/python bench/paging_bench.py --databases sqlite --burst 2000

Each database gets a fresh schema, the demo data and 10,000 timers waiting in the future. Four worker
processes (the real Ticker: due loop, periodic jobs, heartbeats) send to a provider that only notes when
it was asked (epoch seconds), so the figures are the engine's, not a network's.

1. escalation latency: step timers of 100 alerts fall due over 10 s; latency = the timer's due time ->
   the provider request for the next step's SMS. Goal: p99 < 0.5 s.
2. burst: 6,000 alerts escalate at once (their step timers all fall due at one instant); time until
   every one's first page of the new step (the SMS) was requested. Goal: all < 5 s.
   Also printed: the workers' CPU time per escalation (firing, the SMS, idle looks and periodic jobs):
   on a busy machine the wall-clock figures measure the machine; 6,000 in 5 s on 2 cores allows 1.67 ms.
3. an idle look (what the due loop does when nothing is due): mean and p99 ms.
Run it on a quiet machine and print `uptime` beside the figures: two cores shared with other work
change them several-fold.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, insert, select, text, update
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from callcenter.config import load_settings  # noqa: E402
from callcenter.db import make_engine, make_session_factory  # noqa: E402
from callcenter.demo import seed_demo  # noqa: E402
from callcenter.migrate import upgrade  # noqa: E402
from callcenter.models import Alert, EscalationPolicy, OutboxMessage, Page, Timer  # noqa: E402
from callcenter.paging import alerts  # noqa: E402
from callcenter.paging.policies import snapshot  # noqa: E402

PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
FUTURE_TIMERS = 10_000

# A worker process: the real Ticker with a provider that notes request times; "stop" on stdin ends it.
WORKER = r"""
import json, sys, threading, time, uuid
sys.path.insert(0, sys.argv[3])
from callcenter.config import load_settings
from callcenter.db import make_engine
from callcenter.providers import SendResult
from callcenter.scheduler import Ticker


class Recorder:
    name = "memory"

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = {}

    def send(self, message):
        with self.lock:
            self.requests.setdefault(message.id, []).append(time.time())
        return SendResult(ref="MM" + uuid.uuid4().hex, status="queued")


url, out = sys.argv[1], sys.argv[2]
settings = load_settings(env={"CALLCENTER_DATABASE_URL": url})
recorder = Recorder()
ticker = Ticker(settings, make_engine(url), providers={"sms": recorder, "voice": recorder, "email": recorder})
stop = ticker.start_background()
cpu_at_ready = time.process_time()
print("ready", flush=True)
sys.stdin.readline()
stop()
time.sleep(0.5)
with recorder.lock:
    json.dump({"requests": recorder.requests, "cpu": time.process_time() - cpu_at_ready}, open(out, "w"))
print("done", flush=True)
"""


class Workers:
    """N worker processes; `stop()` returns {outbox id: [request times]} over all of them."""

    def __init__(self, url: str, count: int) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="paging-bench-"))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CALLCENTER_", "TWILIO_"))}
        self.procs = [subprocess.Popen([sys.executable, "-c", WORKER, url, str(self.dir / f"w{i}.json"), str(ROOT)],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=open(self.dir / f"w{i}.log", "w"),  # noqa: SIM115
                                       text=True, env=env, cwd=ROOT) for i in range(count)]
        for p in self.procs:
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError("a bench worker did not start")

    def stop(self) -> dict[int, list[float]]:
        for p in self.procs:
            p.stdin.write("stop\n")
            p.stdin.flush()
        requests: dict[int, list[float]] = {}
        self.cpu = 0.0  # CPU seconds the workers used between ready and stop, all threads
        for i, p in enumerate(self.procs):
            p.communicate(timeout=60)
            found = json.loads((self.dir / f"w{i}.json").read_text())
            self.cpu += found["cpu"]
            for key, times in found["requests"].items():
                requests.setdefault(int(key), []).extend(times)
        return requests


def make_database(kind: str) -> tuple[str, callable]:
    if kind == "postgresql":
        admin = make_url(PG_URL)
        name = f"hotline_bench_{uuid.uuid4().hex[:8]}"
        admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with admin_engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = admin.set(database=name).render_as_string(hide_password=False)

        def drop() -> None:
            with admin_engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin_engine.dispose()

        return url, drop
    tmp = tempfile.mkdtemp()
    return f"sqlite:///{tmp}/bench.sqlite", lambda: None


def postgres_answers() -> bool:
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:  # no server: the PostgreSQL column is left out
        return False


def add_future_timers(engine, count: int, now: datetime) -> None:  # noqa: ANN001
    rows = [{"key": f"bench:future:{uuid.uuid4().hex}", "kind": "bench.noop",
             "due_at": now + timedelta(days=30 + i % 300), "payload": {}, "created_at": now} for i in range(count)]
    with engine.begin() as conn:
        for i in range(0, count, 5000):
            conn.execute(insert(Timer), rows[i:i + 5000])


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def step2_sms(factory, alert_ids: set[int] | None = None) -> list[tuple[int, int]]:  # noqa: ANN001
    """(outbox id, alert id) of every SMS of step 2 (the first page after an escalation)."""
    with factory() as s:
        rows = s.execute(select(OutboxMessage.id, Page.alert_id).join(Page, Page.id == OutboxMessage.source_id)
                         .where(OutboxMessage.source_kind == "notification", OutboxMessage.channel == "sms",
                                Page.step == 1)).all()
    return [(m, a) for m, a in rows if alert_ids is None or a in alert_ids]


def wait_for(factory, expected: int, alert_ids: set[int], timeout: float) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.5)
        with factory() as s:
            done = s.scalar(select(func.count()).select_from(OutboxMessage)
                            .join(Page, Page.id == OutboxMessage.source_id)
                            .where(OutboxMessage.source_kind == "notification", OutboxMessage.channel == "sms",
                                   Page.step == 1, OutboxMessage.state != "pending",
                                   OutboxMessage.state != "sending", Page.alert_id.in_(alert_ids)))
        if done >= expected:
            return


def bench_latency(url: str, factory, workers: int, count: int) -> dict:  # noqa: ANN001
    crew = Workers(url, workers)
    try:
        # Raised 5 minutes (the step delay) ago, staggered so the step timers fall due over 10 s from `start`.
        start = datetime.now(UTC) + timedelta(seconds=8)
        ids = []
        with factory() as s:
            policy = s.scalar(select(EscalationPolicy).where(EscalationPolicy.name == "Default"))
            for i in range(count):
                at = start - timedelta(minutes=5) + timedelta(seconds=10 * i / count)
                alert, _ = alerts.raise_alert(s, source="api", dedup_key=f"bench-{uuid.uuid4().hex}",
                                              summary=f"bench alert {i}", policy=policy, now=at)
                ids.append(alert.id)
            # Step 1's call falls due 2 minutes after the raise, i.e. now: noise for this measure.
            s.execute(update(Timer).where(Timer.kind == "paging.rule").values(cancelled_at=at))
            s.commit()
        late = datetime.now(UTC) > start
        wait_for(factory, count, set(ids), 60 + 10)
    finally:
        requests = crew.stop()
    with factory() as s:
        dues = {int(t.key.split(":")[1]): t.due_at for t in s.scalars(
            select(Timer).where(Timer.key.like("alert:%:step:0:0")))}
    latencies = [min(requests[m]) - dues[a].timestamp() for m, a in step2_sms(factory, set(ids)) if m in requests]
    return {"n": len(latencies), "of": count, "late_setup": late, "twice": sum(len(v) > 1 for v in requests.values()),
            "p50": pct(latencies, 50), "p99": pct(latencies, 99), "max": max(latencies)}


def bench_burst(url: str, engine, factory, workers: int, count: int) -> dict:  # noqa: ANN001
    """`count` triggered alerts at step 1 whose step timers fall due together; the worker's work per
    escalation is the real one (lock, advance, page eng3, queue the SMS, arm the next timers)."""
    now = datetime.now(UTC)
    with factory() as s:
        policy = s.scalar(select(EscalationPolicy).where(EscalationPolicy.name == "Default"))
        snap = snapshot(policy)
    far = now + timedelta(days=3650)
    tag = uuid.uuid4().hex[:6]
    with engine.begin() as conn:
        for i in range(0, count, 2000):
            n = min(2000, count - i)
            conn.execute(insert(Alert), [{
                "source": "api", "dedup_key": f"burst-{tag}-{i + j}", "open_key": f"api:burst-{tag}-{i + j}",
                "summary": f"burst alert {i + j}", "details": "", "severity": "critical", "status": "triggered",
                "policy_id": policy.id, "policy_snapshot": snap, "loop": 0, "step": 0, "unreached": False,
                "ack_timeouts": 0, "created_at": now - timedelta(minutes=5), "updated_at": now} for j in range(n)])
        ids = [a for (a,) in conn.execute(select(Alert.id).where(Alert.dedup_key.like(f"burst-{tag}-%")))]
        conn.execute(insert(Timer), [{"key": f"alert:{a}:step:0:0", "kind": "paging.step", "due_at": far,
                                      "payload": {"alert_id": a, "loop": 0, "step": 0}, "created_at": now}
                                     for a in ids])
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))
    crew = Workers(url, workers)
    try:
        time.sleep(1)
        with engine.begin() as conn:
            due = datetime.now(UTC)
            conn.execute(update(Timer).where(Timer.key.in_([f"alert:{a}:step:0:0" for a in ids]))
                         .values(due_at=due))
        wait_for(factory, count, set(ids), 600)
    finally:
        requests = crew.stop()
    firsts = [min(requests[m]) - due.timestamp() for m, _ in step2_sms(factory, set(ids)) if m in requests]
    return {"n": len(firsts), "of": count, "all": max(firsts) if firsts else float("nan"),
            "cpu_ms": 1000 * crew.cpu / max(len(firsts), 1),
            "p50": pct(firsts, 50) if firsts else float("nan"), "twice": sum(len(v) > 1 for v in requests.values())}


def bench_idle(factory) -> dict:  # noqa: ANN001
    from callcenter import outbox, timers

    samples = []
    with factory() as s:
        s.execute(update(Timer).where(Timer.fired_at.is_(None), Timer.kind != "bench.noop")
                  .values(cancelled_at=datetime.now(UTC)))
        s.execute(update(OutboxMessage).where(OutboxMessage.state == "pending").values(state="failed"))
        s.commit()
    for _ in range(110):
        began = time.perf_counter()
        with factory() as s:
            timers.next_due_at(s)
            outbox.next_due_at(s)
        samples.append((time.perf_counter() - began) * 1000)
    samples = samples[10:]
    return {"mean": statistics.mean(samples), "p99": pct(samples, 99)}


def run(kind: str, workers: int, latency_alerts: int, burst: int) -> dict:
    url, drop = make_database(kind)
    try:
        upgrade(url)
        engine = make_engine(url)
        factory = make_session_factory(engine, load_settings(env={"CALLCENTER_DATABASE_URL": url}))
        with factory() as s:
            seed_demo(s, datetime.now(UTC))
            s.commit()
        add_future_timers(engine, FUTURE_TIMERS, datetime.now(UTC))
        result = {"latency": bench_latency(url, factory, workers, latency_alerts)}
        result["burst"] = bench_burst(url, engine, factory, workers, burst)
        result["idle"] = bench_idle(factory)
        engine.dispose()
        return result
    finally:
        drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--latency-alerts", type=int, default=100)
    parser.add_argument("--burst", type=int, default=6000)
    args = parser.parse_args()
    kinds = [k for k in args.databases.split(",") if k and (k != "postgresql" or postgres_answers())]
    results = {}
    for kind in kinds:
        results[kind] = run(kind, args.workers, args.latency_alerts, args.burst)
        print(f"{kind}: {json.dumps(results[kind], default=lambda v: round(v, 3))}", flush=True)
    load = os.getloadavg()
    print(f"\n{args.workers} worker processes, {FUTURE_TIMERS} future timers; load average {load[0]:.2f} "
          f"{load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    head = f"{'':44}" + "".join(f"{k:>22}" for k in kinds) + f"{'goal':>14}"
    print(head)
    lat = {k: r["latency"] for k, r in results.items()}
    bur = {k: r["burst"] for k, r in results.items()}
    idle = {k: r["idle"] for k, r in results.items()}
    cells = {
        f"escalation latency due -> request, p99 ({args.latency_alerts} alerts)":
            [f"{v['p99']:.3f} s (p50 {v['p50']:.3f})" for v in lat.values()] + ["< 0.5 s"],
        f"burst: {args.burst} alerts escalate, all first pages":
            [f"{v['all']:.1f} s ({v['n'] / v['all']:.0f}/s)" for v in bur.values()] + ["< 5 s"],
        "burst: worker CPU per escalation (all threads)": [f"{v['cpu_ms']:.1f} ms" for v in bur.values()]
        + [f"{2 * 5000 / args.burst:.2f} ms" if args.burst else ""],
        "idle look (nothing due), p99": [f"{v['p99']:.2f} ms" for v in idle.values()] + [""],
    }
    for label, values in cells.items():
        print(f"{label:44}" + "".join(f"{v:>22}" for v in values[:-1]) + f"{values[-1]:>14}")
    twice = {k: (lat[k]["twice"], bur[k]["twice"]) for k in kinds}
    lost = {k: (lat[k]["of"] - lat[k]["n"], bur[k]["of"] - bur[k]["n"]) for k in kinds}
    print(f"sent twice (latency, burst): {twice}; not sent: {lost}")


if __name__ == "__main__":
    main()
