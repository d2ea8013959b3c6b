"""Distribution bench: time from "agent available" to "agent's phone dialled".

50 callers wait in the queue, 20 agents are on calls; then each agent in turn becomes available.
Measured per agent: the transaction that sets the state (and, through the AgentAvailable event,
plans and writes the offer and its outbox row) plus the worker's outbox drain that places the
call (console voice provider, so no network). Goal: under 1 s.

Usage: ``python bench/agents_bench.py [--callers 50] [--agents 20] [--database-url URL]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callcenter import agents, calls, outbox  # noqa: E402
from callcenter.config import load_settings  # noqa: E402
from callcenter.db import make_engine, make_session_factory, session_scope  # noqa: E402
from callcenter.demo import seed_demo  # noqa: E402
from callcenter.migrate import upgrade  # noqa: E402
from callcenter.models import AgentState, Contact, Role, StaffUser  # noqa: E402
from callcenter.providers.console import ConsoleProvider  # noqa: E402
from callcenter.wiring import load_services  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--callers", type=int, default=50)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/agents-bench.sqlite"
    settings = load_settings(env={"CALLCENTER_DATABASE_URL": url})
    upgrade(url)
    load_services()
    engine = make_engine(url)
    factory = make_session_factory(engine)
    factory.configure(info={"settings": settings})
    now = datetime(2026, 10, 6, 8, 0, tzinfo=UTC)
    with session_scope(factory) as s:
        seed_demo(s, now)
        s.flush()
        from sqlalchemy import select

        from callcenter.models import Company
        company = s.scalar(select(Company).order_by(Company.id))
        staff = []
        for i in range(args.agents):
            user = StaffUser(username=f"bench{i}", name=f"Bench Agent {i}", role=Role.AGENT, phone=f"+36155520{i:02d}",
                             language="en", created_at=now)
            s.add(user)
            staff.append(user)
        for i in range(args.callers):
            s.add(Contact(company_id=company.id, name=f"Caller {i}", phone=f"+36155530{i:02d}", language="hu"))
        s.flush()
        for user in staff:
            agent = agents.agent_for(s, user.id, now)
            agent.state = AgentState.ON_CALL
        for i in range(args.callers):
            at = now + timedelta(seconds=i)
            ctx = calls.start_call(s, channel="twilio", provider_call_id=f"CA-bench-{i}", caller=f"+36155530{i:02d}",
                                   now=at)
            calls.enter_queue(s, ctx, at)
        staff_ids = [u.id for u in staff]
    providers = {"voice": ConsoleProvider()}
    timings = []
    clock = now + timedelta(minutes=5)
    for staff_id in staff_ids:
        started = time.perf_counter()
        with session_scope(factory) as s:
            agent = agents.agent_for(s, staff_id, clock)
            agents.set_state(s, agent, AgentState.AVAILABLE, clock, "call")
        sent = outbox.drain(factory, providers, lambda: clock)
        timings.append(time.perf_counter() - started)
        assert sent >= 1, "no call was placed"
    ms = sorted(t * 1000 for t in timings)
    print(f"database: {engine.dialect.name}; {args.callers} queued callers, {args.agents} agents")
    print(f"agent available -> phone dialled: median {statistics.median(ms):.1f} ms, "
          f"p95 {ms[int(len(ms) * 0.95) - 1]:.1f} ms, max {ms[-1]:.1f} ms (goal < 1000 ms)")


if __name__ == "__main__":
    main()
