"""Chaos bench: 4 `callcenter worker` processes page for 1,000 alerts while a random worker is killed (-9)
every few seconds and restarted; every page must reach (the fake) Twilio exactly once.

    .venv/bin/python bench/chaos_bench.py                        # SQLite, 120 s of kills
    .venv/bin/python bench/chaos_bench.py --seconds 30 --alerts 200
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/chaos_bench.py

Alerts arrive evenly over the first three quarters of the run, each already 5 minutes into its first step
but for two seconds: eng2 is texted and called at once, and two seconds later the step timer escalates to
eng3, who is texted and called too (a two-step policy, so nothing else pages). Twilio is
tests/fake_twilio.py on 127.0.0.1, answering each request 20 ms after it accepted it, so some kills land
between Twilio's accepting a page and the worker's recording it. After the run, the killing stops and the
bench waits for every page to be settled (the killed workers' rows wait out their lease), then prints:

    pages expected / requested, lost (expected but never requested) and duplicates (requested twice):
    both must be 0; kills; rows found at Twilio by reconciliation / sent again; latency of the
    alert's first page (raised -> requested) and of the escalation (step timer due -> requested).
The exit status is 1 when anything was lost or doubled.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, delete, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fake_twilio import FakeTwilio  # noqa: E402
from faults.procs import Service, hotline_config  # noqa: E402

from callcenter.db import make_engine, make_session_factory  # noqa: E402
from callcenter.demo import seed_demo  # noqa: E402
from callcenter.migrate import upgrade  # noqa: E402
from callcenter.models import (  # noqa: E402
    NotificationRule,
    OutboxAttempt,
    OutboxMessage,
    OutboxState,
    Page,
    Rotation,
    StaffUser,
    Timer,
)
from callcenter.paging import alerts  # noqa: E402
from callcenter.paging.policies import create_policy, set_rule  # noqa: E402
from callcenter.paging.rotations import add_override  # noqa: E402

ENG2, ENG3 = "+3615550182", "+302105550183"
LEAD = timedelta(seconds=2)  # from an alert's first pages to its escalation


def make_database() -> tuple[str, callable]:
    base = os.environ.get("BENCH_DATABASE_URL")
    if base and base.startswith("postgresql"):
        admin = make_url(base)
        name = f"hotline_chaos_{uuid.uuid4().hex[:8]}"
        admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with admin_engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))

        def drop() -> None:
            with admin_engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin_engine.dispose()

        return admin.set(database=name).render_as_string(hide_password=False), drop
    return f"sqlite:///{tempfile.mkdtemp(prefix='chaos-bench-')}/chaos.sqlite", lambda: None


def prepare(factory) -> int:  # noqa: ANN001
    """Demo data; eng2 on call; eng2 and eng3 texted and called at once; a two-step policy. Its id."""
    now = datetime.now(UTC)
    with factory() as s:
        seed_demo(s, now)
        staff = {u.username: u for u in s.scalars(select(StaffUser))}
        add_override(s, s.scalar(select(Rotation)), staff["eng2"], now - timedelta(hours=1), now + timedelta(days=1),
                     now=now, reason="chaos bench")
        for name in ("eng2", "eng3"):
            s.execute(delete(NotificationRule).where(NotificationRule.staff_id == staff[name].id))
            set_rule(s, staff[name], "sms", 0)
            set_rule(s, staff[name], "voice", 0)
        rotation = s.scalar(select(Rotation))
        policy = create_policy(s, name="Chaos", repeat=0, now=now, steps=[
            {"delay_minutes": 5, "targets": [{"kind": "rotation", "id": rotation.id}]},
            {"delay_minutes": 5, "targets": [{"kind": "level", "level": "L3"}]}])
        s.commit()
        return policy.id


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120, help="how long alerts arrive and workers are killed")
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--kill-every", type=float, default=4.0, help="mean seconds between kills")
    parser.add_argument("--settle", type=float, default=120, help="at most this long for the last pages after")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    url, drop = make_database()
    workdir = Path(tempfile.mkdtemp(prefix="chaos-bench-run-"))
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    policy_id = prepare(factory)
    raised: dict[int, float] = {}  # alert id -> when its raise committed (epoch)
    kills: list[tuple[float, str]] = []
    stop = threading.Event()
    fake = FakeTwilio().start()
    fake.accept_delay = 0.02
    config = hotline_config(url, workdir, twilio=fake)
    workers = [Service("worker", config, workdir, name=f"worker{i}") for i in range(args.workers)]
    try:
        for w in workers:
            w.start()
        for w in workers:
            w.wait_ready()
        began = time.monotonic()
        print(f"{args.workers} workers up; {args.alerts} alerts over {args.seconds * 0.75:.0f} s, a kill every "
              f"~{args.kill_every:.0f} s for {args.seconds:.0f} s ({engine.dialect.name}, {workdir})", flush=True)

        def source() -> None:
            from callcenter.models import EscalationPolicy

            spread = args.seconds * 0.75
            with factory() as s:
                policy = s.get(EscalationPolicy, policy_id)
                for i in range(args.alerts):
                    wait = began + spread * i / args.alerts - time.monotonic()
                    if wait > 0 and stop.wait(wait):
                        return
                    now = datetime.now(UTC)
                    alert, _ = alerts.raise_alert(s, source="api", dedup_key=f"chaos-{i}", summary=f"chaos alert {i}",
                                                  policy=policy, now=now - timedelta(minutes=5) + LEAD)
                    s.commit()
                    raised[alert.id] = time.time()

        def killer() -> None:
            while not stop.wait(rng.uniform(0.5, 1.5) * args.kill_every):
                if time.monotonic() - began > args.seconds:
                    return
                victim = rng.choice(workers)
                victim.kill()
                kills.append((time.monotonic() - began, victim.name))
                victim.start()

        threads = [threading.Thread(target=source, daemon=True), threading.Thread(target=killer, daemon=True)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        expected = 4 * len(raised)

        def settled() -> bool:
            with factory() as s:
                busy = s.scalar(select(OutboxMessage.id).where(
                    OutboxMessage.state.in_([OutboxState.PENDING, OutboxState.SENDING])).limit(1))
                waiting = s.scalar(select(Timer.id).where(Timer.key.like("alert:%:step:0:0"), Timer.fired_at.is_(None),
                                                          Timer.cancelled_at.is_(None)).limit(1))
            return busy is None and waiting is None and len(fake.messages) + len(fake.calls) >= expected

        deadline = time.monotonic() + args.settle
        while not settled() and time.monotonic() < deadline:
            time.sleep(1)
        took = time.monotonic() - began
        time.sleep(2)  # a page requested now would be a duplicate
    finally:
        stop.set()
        for w in workers:
            w.stop()
        fake.stop()

    with factory() as s:
        states = Counter(s.scalars(select(OutboxMessage.state).where(OutboxMessage.source_kind == "notification")))
        rows = s.execute(select(OutboxMessage.provider_ref, OutboxMessage.channel, OutboxMessage.destination,
                                Page.alert_id, Page.step)
                         .join(Page, Page.id == OutboxMessage.source_id)
                         .where(OutboxMessage.source_kind == "notification")).all()
        dues = {int(t.key.split(":")[1]): t.due_at.timestamp() for t in s.scalars(
            select(Timer).where(Timer.key.like("alert:%:step:0:0")))}
        outcomes = Counter(a.outcome for a in s.scalars(select(OutboxAttempt)))
    engine.dispose()
    drop()

    requested = {m.sid: m.at for m in fake.messages} | {c.sid: c.at for c in fake.calls}
    per_page = Counter((m.to, m.body) for m in fake.messages) + Counter(
        (c.to, c.url.rsplit("o=", 1)[-1].split(".")[0]) for c in fake.calls)
    owned = {ref for ref, *_ in rows if ref}
    duplicates = sum(n - 1 for n in per_page.values())  # the same page requested again
    orphans = len(set(requested) - owned)  # requested, but no outbox row knows it (a duplicate's mark)
    got = Counter((alert_id, step, channel, to) for ref, channel, to, alert_id, step in rows if ref in requested)
    wanted = {(a, step, channel, to) for a in raised for step, to in ((0, ENG2), (1, ENG3))
              for channel in ("sms", "voice")}
    lost = len(wanted - set(got))
    false = len(set(got) - wanted)
    done = [(requested[ref], a, step) for ref, _, _, a, step in rows if ref in requested]
    first = [at - raised[a] for at, a, step in done if step == 0 and a in raised]
    escalation = [at - dues[a] for at, a, step in done if step == 1 and a in dues]
    load = os.getloadavg()
    print(f"\npages: expected {expected}, requested {len(requested)} ({len(fake.messages)} SMS, "
          f"{len(fake.calls)} calls); lost {lost}, duplicates {duplicates}, unexpected {false}, unowned {orphans}")
    unsettled = states[OutboxState.PENDING] + states[OutboxState.SENDING]
    print(f"outbox rows by state {dict(states)}" + (f": {unsettled} not settled within --settle, so 'lost' and "
                                                   "'unowned' include pages still on their way" if unsettled else ""))
    print(f"kills: {len(kills)} (-9, each worker restarted at once) in {args.seconds:.0f} s; all settled after "
          f"{took:.0f} s; outbox outcomes {dict(outcomes)}")
    print(f"latency raised -> first page requested: p50 {percentile(first, 50):.2f} s, "
          f"p99 {percentile(first, 99):.2f} s, max {max(first, default=float('nan')):.2f} s")
    print(f"latency escalation due -> page requested: p50 {percentile(escalation, 50):.2f} s, "
          f"p99 {percentile(escalation, 99):.2f} s, max {max(escalation, default=float('nan')):.2f} s")
    print("(pages held by a killed worker wait out its lease: the max is the cost of a crash)")
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    return 1 if lost or duplicates or false or orphans else 0


if __name__ == "__main__":
    sys.exit(main())
