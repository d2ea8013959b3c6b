"""Where an escalation's CPU goes: one process, no threads, the burst's work split into its two halves.

    .venv/bin/python bench/paging_profile.py                       # SQLite, 1,000 escalations
    .venv/bin/python bench/paging_profile.py --database postgresql --alerts 2000
    .venv/bin/python bench/paging_profile.py --profile fire        # cProfile of the firing half

The same set-up as bench/paging_bench.py's burst (alerts at step 1 of the demo Default policy whose step
timers are all due), then in this process: (1) fire every due timer (`Ticker.fire_timers`), (2) send
every queued page (`Ticker.drain_outbox`) to a provider that only returns an id. Printed per escalation:
process CPU time (not wall time: the machine is shared), SQL statements and commits, for each half.
The burst goal (6,000 in 5 s on 2 cores) allows 1.67 ms of CPU per escalation, both halves together.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import event, insert, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from paging_bench import make_database  # noqa: E402

from callcenter.config import load_settings  # noqa: E402
from callcenter.db import make_engine  # noqa: E402
from callcenter.demo import seed_demo  # noqa: E402
from callcenter.migrate import upgrade  # noqa: E402
from callcenter.models import Alert, EscalationPolicy, Timer  # noqa: E402
from callcenter.paging.policies import snapshot  # noqa: E402
from callcenter.providers import SendResult  # noqa: E402
from callcenter.scheduler import Ticker  # noqa: E402


class Quiet:
    name = "memory"

    def send(self, message) -> SendResult:  # noqa: ANN001
        return SendResult(ref="MM" + uuid.uuid4().hex, status="queued")


def server_cpu(engine) -> float:  # noqa: ANN001
    """CPU seconds the PostgreSQL backends serving this database have used (a local server's /proc); 0 elsewhere."""
    if engine.dialect.name != "postgresql":
        return 0.0
    with engine.connect() as conn:
        pids = list(conn.scalars(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")))
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a backend that ended (its CPU is lost to the figure) or a remote server
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="sqlite", choices=("sqlite", "postgresql"))
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--profile", choices=("fire", "send"), default=None)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    url, drop = make_database(args.database)
    try:
        upgrade(url)
        engine = make_engine(url)
        settings = load_settings(env={"CALLCENTER_DATABASE_URL": url})
        memory = Quiet()
        ticker = Ticker(settings, engine, providers={"sms": memory, "voice": memory, "email": memory})
        now = datetime.now(UTC)
        with ticker.factory() as s:
            seed_demo(s, now)
            s.commit()
            snap = snapshot(s.scalar(select(EscalationPolicy).where(EscalationPolicy.name == "Default")))
            policy_id = snap["id"]
        with engine.begin() as conn:
            conn.execute(insert(Alert), [{
                "source": "api", "dedup_key": f"p-{i}", "open_key": f"api:p-{i}", "summary": f"burst alert {i}",
                "details": "", "severity": "critical", "status": "triggered", "policy_id": policy_id,
                "policy_snapshot": snap, "loop": 0, "step": 0, "unreached": False, "ack_timeouts": 0,
                "created_at": now - timedelta(minutes=5), "updated_at": now} for i in range(args.alerts)])
            ids = [a for (a,) in conn.execute(select(Alert.id).where(Alert.dedup_key.like("p-%")))]
            conn.execute(insert(Timer), [{"key": f"alert:{a}:step:0:0", "kind": "paging.step", "due_at": now,
                                          "payload": {"alert_id": a, "loop": 0, "step": 0}, "created_at": now}
                                         for a in ids])
            if engine.dialect.name == "postgresql":
                conn.execute(text("ANALYZE"))
        counts = {"statements": 0, "commits": 0}

        @event.listens_for(engine, "before_cursor_execute")
        def _count(*_a) -> None:  # noqa: ANN002
            counts["statements"] += 1

        @event.listens_for(engine, "commit")
        def _commits(*_a) -> None:  # noqa: ANN002
            counts["commits"] += 1

        n = len(ids)
        for label, run in (("fire", ticker.fire_timers), ("send", ticker.drain_outbox)):
            counts.update(statements=0, commits=0)
            profiler = cProfile.Profile() if args.profile == label else None
            server = server_cpu(engine)
            cpu, wall = time.process_time(), time.perf_counter()
            if profiler:
                profiler.enable()
            done = run()
            if profiler:
                profiler.disable()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            server = server_cpu(engine) - server
            print(f"{args.database} {label}: {done} rows; per escalation {1000 * cpu / n:.2f} ms CPU "
                  + (f"+ {1000 * server / n:.2f} ms PostgreSQL server CPU " if server else "")
                  + f"({1000 * wall / n:.2f} ms wall), {counts['statements'] / n:.1f} statements, "
                  f"{counts['commits'] / n:.2f} commits", flush=True)
            if profiler:
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)
        with engine.begin() as conn:
            left = conn.execute(text("SELECT count(*) FROM timers WHERE fired_at IS NULL AND cancelled_at IS NULL "
                                     "AND due_at <= :now"), {"now": datetime.now(UTC)}).scalar()
        load = os.getloadavg()
        print(f"{n} escalations, {left} due timers left; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
              f"the goal allows {2 * 5000 / 6000:.2f} ms CPU per escalation on 2 cores")
        engine.dispose()
    finally:
        drop()


if __name__ == "__main__":
    main()
