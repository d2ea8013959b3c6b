"""The console with 10,000 open tickets on PostgreSQL: server time of the queue, search and ticket page.
Run: python bench/console_bench.py

Creates a fresh PostgreSQL database (dropped afterwards), loads N open tickets of the demo customers
with COPY (each with its created event, a third with an agent's note, a quarter with a call), builds
the full-text index with the same code that keeps it current (`search.rebuild_all`), then times the
requests in-process through Flask's test client, signed in as an agent: the queue page (default order,
sorted by company, "breaching in 1 h", page 40), its JSON refresh, searches (a word, a caller number)
and ticket pages. Prints p50/p95 per request kind. Goal: p95 under 200 ms.

    BENCH_PG_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres  (default)
    BENCH_TICKETS=10000   BENCH_REPEAT=25                               (defaults)
    BENCH_KEEP_DB=hotline_console_10k   keep the loaded database under this name and reuse it next time
"""

from __future__ import annotations

import json
import os
import random
import re
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from callcenter.config import load_settings  # noqa: E402
from callcenter.db import make_engine, make_session_factory  # noqa: E402
from callcenter.demo import seed_demo  # noqa: E402
from callcenter.migrate import upgrade  # noqa: E402
from callcenter.models import Call, Company, StaffUser  # noqa: E402

ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
N = int(os.environ.get("BENCH_TICKETS", "10000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "25"))
KEEP = os.environ.get("BENCH_KEEP_DB", "")
NOW = datetime(2026, 11, 30, 9, tzinfo=UTC)  # a Monday morning, the office open
GOAL_MS = 200

WORDS = ("printer", "queue", "stuck", "vpn", "slow", "switch", "port", "flapping", "pbx", "trunk", "down",
         "mailbox", "full", "password", "reset", "laptop", "screen", "flicker", "scanner", "offline", "backup",
         "failed", "license", "expired", "wifi", "drops", "firewall", "rule", "server", "disk", "nyomtató",
         "hálózat", "εκτυπωτής", "δίκτυο")
OPEN = ["new"] * 4 + ["acknowledged"] * 2 + ["in_progress"] * 3 + ["waiting_customer", "waiting_approval"]
CATEGORIES = ["user"] * 5 + ["system"] * 3 + ["infrastructure"] * 2 + ["complaint"]
PRIORITIES = ["normal"] * 6 + ["high"] * 2 + ["low", "critical"]
LEVELS = ["L1"] * 6 + ["L2"] * 3 + ["L3"]
TICKET_COLUMNS = ("id", "number", "subject", "description", "channel", "category", "priority", "status", "level",
                  "company_id", "contract_id", "reporter_name", "reporter_phone", "reporter_email", "assignee_id",
                  "created_at", "updated_at", "sla_started_at", "sla_response_minutes", "sla_clock",
                  "response_due_at", "responded_at", "sla_paused", "reopen_count", "response_breached")
EVENT_COLUMNS = ("ticket_id", "at", "kind", "actor_kind", "actor_name", "changes", "body", "public")


def copy_rows(engine, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:  # noqa: ANN001
    raw = engine.raw_connection()
    try:
        with raw.driver_connection.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        raw.driver_connection.commit()
    finally:
        raw.close()


def populate(engine, factory) -> None:  # noqa: ANN001
    rng = random.Random(12)
    with factory() as s:
        seed_demo(s, NOW - timedelta(days=30))
        s.commit()
        companies = [(c.id, c.contracts[0].id if c.contracts else None) for c in s.scalars(select(Company))]
        staff = [u.id for u in s.scalars(select(StaffUser).where(StaffUser.role.in_(["agent", "engineer"])))]
    created_changes = json.dumps({"status": [None, "new"]})
    tickets, events, calls = [], [], []
    for i in range(N):
        company_id, contract_id = rng.choice(companies)
        created = NOW - timedelta(minutes=rng.randrange(5, 60 * 24 * 20))
        target = rng.choice([60, 120, 240, 480])
        status = rng.choice(OPEN)
        responded = created + timedelta(minutes=rng.randrange(1, 90)) if status in ("in_progress",
                                                                                    "waiting_customer") else None
        due = created + timedelta(minutes=target * 2)
        phone = f"+36{rng.randrange(1, 99):02d}{rng.randrange(1000000, 9999999)}"
        # Common words (each in about half the tickets: the worst case for a search) and one specific
        # name per ticket out of 2,000 (a host or a device: what agents mostly search for).
        subject = (" ".join(rng.choice(WORDS) for _ in range(rng.randrange(2, 5))).capitalize()
                   + f" host{rng.randrange(2000):04d}")
        description = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(10, 40)))
        tickets.append((i + 1, 15000 + i, subject, description, rng.choice(["phone", "email", "web"]),
                        rng.choice(CATEGORIES), rng.choice(PRIORITIES), status, rng.choice(LEVELS), company_id,
                        contract_id, f"Caller {i}", phone, f"user{i}@customer{company_id}.example",
                        rng.choice(staff + [None] * len(staff)), created, created, created, target, "working",
                        due, responded, status == "waiting_customer", 0, responded is None and due < NOW))
        events.append((i + 1, created, "created", "system", "system", created_changes, description, True))
        if rng.random() < 0.33:
            note = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(5, 30)))
            events.append((i + 1, created + timedelta(minutes=3), "note", "staff", "Szabó Péter", "{}", note, False))
        if rng.random() < 0.25:
            calls.append({"channel": "twilio", "provider_call_id": f"CAbench{i:08d}", "caller_number": phone,
                          "company_id": company_id, "arrived_at": created, "menu_path": "1", "ticket_id": i + 1,
                          "outcome": "answered", "answered_at": created, "ended_at": created})
    copy_rows(engine, "tickets", TICKET_COLUMNS, tickets)
    copy_rows(engine, "ticket_events", EVENT_COLUMNS, events)
    with factory() as s:
        s.execute(insert(Call), calls)  # the ORM's bulk INSERT: the model's defaults, no per-object work
        s.execute(text("SELECT setval(pg_get_serial_sequence('tickets', 'id'), (SELECT max(id) FROM tickets))"))
        s.commit()


def build_index(factory) -> int:  # noqa: ANN001
    from callcenter.search import rebuild_all

    with factory() as s:
        count = rebuild_all(s)
        s.commit()
    return count


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    from callcenter.app import create_app

    admin = make_url(ADMIN_URL)
    name = KEEP or f"hotline_console_{uuid.uuid4().hex[:8]}"
    admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.set(database=name).render_as_string(hide_password=False)
    engine = None
    try:
        upgrade(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        if exists:
            print(f"reusing database {name} (BENCH_KEEP_DB)")
        else:
            t0 = time.perf_counter()
            populate(engine, factory)
            print(f"loaded {N:,} open tickets (COPY) in {time.perf_counter() - t0:.1f} s")
            t0 = time.perf_counter()
            print(f"search index: {build_index(factory):,} documents in {time.perf_counter() - t0:.1f} s")
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                for table in ("tickets", "ticket_events", "calls", "ticket_search"):
                    conn.execute(text(f"VACUUM ANALYZE {table}"))

        settings = load_settings(env={"CALLCENTER_DATABASE_URL": url})
        settings.secret_key = "bench"
        app = create_app(settings, engine)
        app.config["CLOCK"] = lambda: NOW
        client = app.test_client()
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))[1]
        client.post("/login", data={"login": "agent1", "password": "demo", "csrf_token": token})
        with factory() as s:
            numbers = list(s.scalars(text("SELECT number FROM tickets ORDER BY random() LIMIT 200")))
            phone = s.scalar(text("SELECT caller_number FROM calls ORDER BY id LIMIT 1"))
        requests = {
            "queue page": lambda i: "/console/queue",
            "queue page, sorted by company": lambda i: "/console/queue?sort=company",
            "queue page, breaching in 1 h": lambda i: "/console/queue?view=breaching",
            "queue page 40 of 200": lambda i: "/console/queue?page=40",
            "queue refresh (JSON)": lambda i: "/console/queue.json",
            "search: a host name (queue)": lambda i: f"/console/queue?q=host{(i * 37) % 2000:04d}",
            "search: a common word (queue)": lambda i: f"/console/queue?q={WORDS[i % len(WORDS)]}",
            "search: two common words (all)": lambda i: f"/console/tickets?q={WORDS[i % 10]}+{WORDS[(i + 3) % 10]}",
            "search: caller number": lambda i: f"/console/tickets?q={phone.replace('+', '%2B')}",
            "ticket page": lambda i: f"/console/tickets/{numbers[i % len(numbers)]}",
        }
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"{N:,} open tickets on PostgreSQL; {REPEAT} requests each; load average {load}")
        print(f"{'request':<36} {'p50 ms':>8} {'p95 ms':>8} {'rows':>6}")
        worst = 0.0
        for label, path in requests.items():
            client.get(path(0))  # warm: the first request compiles templates and statements
            times, rows = [], 0
            for i in range(REPEAT):
                t0 = time.perf_counter()
                r = client.get(path(i))
                times.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200, (path(i), r.status_code)
                rows = r.get_data(as_text=True).count(" data-number=") or rows
            p95 = percentile(times, 0.95)
            worst = max(worst, p95)
            print(f"{label:<36} {statistics.median(times):8.1f} {p95:8.1f} {rows:6d}")
        print(f"load average after {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"goal: p95 under {GOAL_MS} ms for every request: worst {worst:.0f} ms "
              f"{'PASS' if worst < GOAL_MS else 'FAIL'}")
    finally:
        if engine is not None:
            engine.dispose()
        if not KEEP:
            with admin_engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()


if __name__ == "__main__":
    main()
