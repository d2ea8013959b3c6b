"""Paging bench: escalation latency, timers fired per second, and the cost of an idle tick.

    .venv/bin/python bench/paging_bench.py                      # SQLite file in a temp dir
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/paging_bench.py

Figures printed:
1. escalation latency: step timers falling due over 10 s (while 10,000 other timers wait in the
   future), several workers running the real APScheduler ticker (2 s timer and outbox jobs);
   latency = timer due time -> provider request for the next step's SMS; p50/p99/max.
2. timers fired per second by N workers (each firing writes the next step's pages and SMS rows).
3. an idle tick (fire_due + outbox drain, nothing due) with 100,000 future timers: mean and p99 ms.
Goals (issue 4): p99 under 2 s with the default tick; idle tick under 20 ms on PostgreSQL.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callcenter import outbox, timers  # noqa: E402
from callcenter.config import load_settings  # noqa: E402
from callcenter.db import make_engine, make_session_factory  # noqa: E402
from callcenter.demo import seed_demo  # noqa: E402
from callcenter.migrate import upgrade  # noqa: E402
from callcenter.models import EscalationPolicy, OutboxMessage, Page, Timer  # noqa: E402
from callcenter.paging import alerts  # noqa: E402
from callcenter.providers import SendResult  # noqa: E402
from callcenter.scheduler import TIMER_INTERVAL_SECONDS, Ticker  # noqa: E402

WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
LATENCY_ALERTS = int(os.environ.get("BENCH_ALERTS", "100"))
FUTURE_TIMERS = 10_000
IDLE_TIMERS = 100_000


class MemoryProvider:
    """Accepts every message at once and notes when it was asked to send."""

    name = "memory"

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: dict[int, datetime] = {}

    def send(self, message) -> SendResult:  # noqa: ANN001
        with self.lock:
            self.requests[message.id] = datetime.now(UTC)
        return SendResult(ref=f"MM{uuid.uuid4().hex}", status="queued")


def make_database() -> tuple[str, callable]:
    base = os.environ.get("BENCH_DATABASE_URL")
    if base and base.startswith("postgresql"):
        admin = make_url(base)
        name = f"hotline_bench_{uuid.uuid4().hex[:8]}"
        admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with admin_engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = admin.set(database=name).render_as_string(hide_password=False)

        def drop() -> None:
            with admin_engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

        return url, drop
    tmp = tempfile.mkdtemp()
    return f"sqlite:///{tmp}/bench.sqlite", lambda: None


def add_future_timers(engine, count: int, now: datetime) -> None:  # noqa: ANN001
    rows = [{"key": f"bench:future:{uuid.uuid4().hex}", "kind": "bench.noop",
             "due_at": now + timedelta(days=30 + i % 300), "payload": {}, "created_at": now} for i in range(count)]
    with engine.begin() as conn:
        for i in range(0, count, 5000):
            conn.execute(insert(Timer), rows[i:i + 5000])


def raise_alerts(factory, count: int, at_fn) -> list[int]:  # noqa: ANN001
    ids = []
    with factory() as s:
        policy = s.scalar(select(EscalationPolicy).where(EscalationPolicy.name == "Default"))
        for i in range(count):
            alert, _ = alerts.raise_alert(s, source="api", dedup_key=f"bench-{uuid.uuid4().hex}",
                                          summary=f"bench alert {i}", policy=policy, now=at_fn(i))
            ids.append(alert.id)
        s.commit()
    return ids


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def bench_latency(settings, engine, factory) -> None:  # noqa: ANN001
    add_future_timers(engine, FUTURE_TIMERS, datetime.now(UTC))
    provider = MemoryProvider()
    providers = {"sms": provider, "voice": provider, "email": provider}
    # Raised 5 minutes (the step delay) ago, staggered so step timers fall due over the next 10 s.
    start = datetime.now(UTC) + timedelta(seconds=3)
    ids = raise_alerts(factory, LATENCY_ALERTS,
                       lambda i: start - timedelta(minutes=5) + timedelta(seconds=10 * i / LATENCY_ALERTS))
    with factory() as s:  # the voice rules (due at +2 min) would add noise: drop them
        s.execute(Timer.__table__.update().where(Timer.kind == "paging.rule").values(cancelled_at=start))
        s.commit()
    while outbox.drain(factory, providers, lambda: datetime.now(UTC), limit=200):
        pass  # step 1's SMS went out when the alerts were raised, before the measured window
    stops = [Ticker(settings, engine, providers=providers).start_background() for _ in range(WORKERS)]
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            time.sleep(1)
            with factory() as s:
                done = s.scalar(select(Timer.id).where(Timer.kind == "paging.step", Timer.fired_at.is_(None),
                                                       Timer.key.like("alert:%:step:0:0")).limit(1)) is None
                unsent = s.scalar(select(OutboxMessage.id).where(OutboxMessage.state == "pending").limit(1))
            if done and unsent is None:
                break
    finally:
        for stop in stops:
            stop()
        time.sleep(0.5)
    latencies = []
    with factory() as s:
        dues = {int(t.key.split(":")[1]): t.due_at for t in s.scalars(
            select(Timer).where(Timer.key.like("alert:%:step:0:0")))}
        rows = s.execute(select(OutboxMessage.id, Page.alert_id).join(Page, Page.id == OutboxMessage.source_id)
                         .where(OutboxMessage.source_kind == "notification", Page.step == 1)).all()
    for msg_id, alert_id in rows:
        if msg_id in provider.requests and alert_id in dues:
            latencies.append((provider.requests[msg_id] - dues[alert_id]).total_seconds())
    print(f"escalation latency, {len(latencies)}/{len(ids)} step-2 pages, {WORKERS} workers, "
          f"{FUTURE_TIMERS} future timers, default {TIMER_INTERVAL_SECONDS} s tick:")
    if latencies:
        print(f"  p50 {pct(latencies, 50):.2f} s   p99 {pct(latencies, 99):.2f} s   max {max(latencies):.2f} s")


def bench_fire_rate(factory) -> None:  # noqa: ANN001
    count = 400
    t0 = datetime(2026, 10, 6, 8, 0, tzinfo=UTC)
    raise_alerts(factory, count, lambda i: t0)
    due = t0 + timedelta(minutes=5)
    fired = [0]
    lock = threading.Lock()

    def work() -> None:
        while True:
            n = timers.fire_due(factory, due, f"bench-{threading.get_ident()}")
            with lock:
                fired[0] += n
            if n == 0:
                return

    threads = [threading.Thread(target=work) for _ in range(WORKERS)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    print(f"timers fired: {fired[0]} in {elapsed:.2f} s with {WORKERS} workers = {fired[0] / elapsed:.0f}/s "
          f"(each writes the next step's pages, SMS rows and timers)")


def bench_idle_tick(engine, factory) -> None:  # noqa: ANN001
    with factory() as s:
        s.execute(Timer.__table__.update().where(Timer.fired_at.is_(None)).values(cancelled_at=datetime.now(UTC)))
        s.execute(OutboxMessage.__table__.update().where(OutboxMessage.state == "pending").values(state="failed"))
        s.commit()
    with factory() as s:
        existing = s.scalar(select(Timer.id).where(Timer.kind == "bench.noop").limit(1))
    add_future_timers(engine, IDLE_TIMERS - (FUTURE_TIMERS if existing else 0), datetime.now(UTC))
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE timers"))
            conn.execute(text("ANALYZE outbox"))
        total = conn.execute(text("SELECT count(*) FROM timers WHERE fired_at IS NULL AND cancelled_at IS NULL"))
        waiting = total.scalar()
    samples, fire_only = [], []
    for _ in range(110):
        began = time.perf_counter()
        timers.fire_due(factory, datetime.now(UTC))
        fired = time.perf_counter()
        outbox.drain(factory, {}, lambda: datetime.now(UTC))
        samples.append((time.perf_counter() - began) * 1000)
        fire_only.append((fired - began) * 1000)
    samples, fire_only = samples[10:], fire_only[10:]  # warm-up
    print(f"idle tick (fire_due + drain, nothing due) with {waiting} future timers: "
          f"mean {statistics.mean(samples):.2f} ms   p50 {pct(samples, 50):.2f} ms   p99 {pct(samples, 99):.2f} ms"
          f"   (fire_due alone p50 {pct(fire_only, 50):.2f} ms)")


def main() -> None:
    url, drop = make_database()
    try:
        upgrade(url)
        settings = load_settings(env={"CALLCENTER_DATABASE_URL": url})
        engine = make_engine(url)
        factory = make_session_factory(engine)
        with factory() as s:
            seed_demo(s, datetime.now(UTC))
            s.commit()
        print(f"database: {engine.dialect.name}")
        timers.register("bench.noop", lambda session, timer, now: None)
        bench_latency(settings, engine, factory)
        bench_fire_rate(factory)
        bench_idle_tick(engine, factory)
        engine.dispose()
    finally:
        drop()


if __name__ == "__main__":
    main()
