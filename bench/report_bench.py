"""Quarterly SLA report on 1,000,000 tickets: render times.  Run: python bench/report_bench.py

Creates a fresh PostgreSQL database (dropped afterwards), loads N tickets of one customer with COPY in
2026Q3 (about 5 % of them with a waiting-for-customer pause in their status history), then times
the report computation, the HTML page, the CSV and the PDF. Goal: under 2 s on PostgreSQL.

    BENCH_PG_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres  (default)
    BENCH_TICKETS=1000000                                               (default)
    BENCH_KEEP_DB=hotline_report_1m   keep the loaded database under this name and reuse it next time
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from callcenter.config import load_settings  # noqa: E402
from callcenter.db import DbTimeouts, make_engine, make_session_factory  # noqa: E402
from callcenter.demo import seed_demo  # noqa: E402
from callcenter.migrate import upgrade  # noqa: E402
from callcenter.models import Company  # noqa: E402
from callcenter.sla import clock_calendar, response_target  # noqa: E402
from callcenter.sla_clock import add_working_time  # noqa: E402

ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
N = int(os.environ.get("BENCH_TICKETS", "1000000"))
# A database name: created and loaded on the first run, kept and reused afterwards (for profiling).
KEEP = os.environ.get("BENCH_KEEP_DB", "")
QUARTER_START = datetime(2026, 6, 30, 22, tzinfo=UTC)  # 2026-07-01 00:00 Budapest
NOW = datetime(2026, 10, 6, 8, tzinfo=UTC)
CATEGORIES = ["user"] * 5 + ["system"] * 3 + ["infrastructure"] * 2 + ["complaint"]


TICKET_COLUMNS = ("id", "number", "subject", "description", "channel", "category", "priority", "status", "level",
                  "company_id", "contract_id", "created_at", "updated_at", "sla_started_at", "sla_response_minutes",
                  "sla_clock", "response_due_at", "responded_at", "sla_paused", "reopen_count", "response_breached")
EVENT_COLUMNS = ("ticket_id", "at", "kind", "actor_kind", "changes", "public")


def generate(company_id: int, contract, rng: random.Random):  # noqa: ANN001, ANN201
    """The bench's tickets and their status events, as rows in TICKET_COLUMNS / EVENT_COLUMNS order."""
    targets = {c: response_target(contract, c) for c in set(CATEGORIES)}
    cal = clock_calendar(contract, "working")
    tickets, events = [], []
    created_event = json.dumps({"status": [None, "new"]})
    answered_event = json.dumps({"status": ["new", "in_progress"]})
    pause_events = (json.dumps({"status": ["new", "waiting_customer"]}),
                    json.dumps({"status": ["waiting_customer", "in_progress"]}))
    for i in range(N):
        category = rng.choice(CATEGORIES)
        target = targets[category]
        created = QUARTER_START + timedelta(seconds=rng.randrange(91 * 86400))
        due = add_working_time(created, target.duration, cal)
        answered = rng.random() < 0.97
        responded = created + timedelta(minutes=rng.randrange(5, 60 * 30)) if answered else None
        status = rng.choice(["in_progress", "resolved", "closed"]) if answered else "new"
        tickets.append((i + 1, 15000 + i, f"Bench ticket {i}", "", rng.choice(["phone", "email", "web"]), category,
                        "normal", status, "L1", company_id, contract.id, created, created, created, target.minutes,
                        target.clock, due, responded, False, 0, (responded or NOW) > due))
        events.append((i + 1, created, "created", "system", created_event, True))
        if answered and rng.random() < 0.05:
            pause = created + (responded - created) / 3
            events.append((i + 1, pause, "status", "system", pause_events[0], True))
            events.append((i + 1, responded, "status", "system", pause_events[1], True))
        elif answered:
            events.append((i + 1, responded, "status", "system", answered_event, True))
    return tickets, events


def copy_rows(engine, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:  # noqa: ANN001
    """COPY ... FROM STDIN: the fastest way into PostgreSQL (one round trip, no per-row statements)."""
    raw = engine.raw_connection()
    try:
        with raw.driver_connection.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        raw.driver_connection.commit()
    finally:
        raw.close()


def populate(engine, factory) -> None:  # noqa: ANN001
    rng = random.Random(7)
    with factory() as s:
        seed_demo(s, NOW)
        s.commit()
        company = s.scalar(select(Company).where(Company.name == "Budapest Demo Kft."))
        contract = company.contracts[0]
        t0 = time.perf_counter()
        tickets, events = generate(company.id, contract, rng)
        print(f"  generated {len(tickets):,} tickets, {len(events):,} events in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    copy_rows(engine, "tickets", TICKET_COLUMNS, tickets)
    copy_rows(engine, "ticket_events", EVENT_COLUMNS, events)
    print(f"  COPY in {time.perf_counter() - t0:.1f} s")
    with factory() as s:
        s.execute(text("SELECT setval(pg_get_serial_sequence('tickets', 'id'), (SELECT max(id) FROM tickets))"))
        s.commit()
    # As autovacuum would leave a table that has settled: statistics and the visibility map.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE tickets"))
        conn.execute(text("VACUUM ANALYZE ticket_events"))


def fill_all(factory) -> int:  # noqa: ANN001
    from callcenter.sla_jobs import fill_response_minutes

    total = 0
    while True:
        with factory() as s:
            n = fill_response_minutes(s, limit=20000)
            s.commit()
        total += n
        if n < 20000:
            return total


def timed(label: str, fn):  # noqa: ANN001, ANN201
    t0 = time.perf_counter()
    result = fn()
    print(f"{label:<38} {time.perf_counter() - t0:7.3f} s")
    return result


def main() -> None:
    from callcenter.app import create_app
    from callcenter.report_export import quarterly_csv, quarterly_pdf
    from callcenter.reports import quarterly_report

    admin = make_url(ADMIN_URL)
    name = KEEP or f"hotline_bench_{uuid.uuid4().hex[:8]}"
    admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        # Loading a million rows takes longer than the services' statement timeout: no limit here.
        loader = make_engine(url, timeouts=DbTimeouts(statement=0))
        load_factory = make_session_factory(loader)
        if exists:
            print(f"reusing database {name} (BENCH_KEEP_DB)")
        else:
            timed(f"bulk load {N:,} tickets (COPY)", lambda: populate(loader, load_factory))
        # Loaded behind the services' back, the tickets have no response times yet: the worker's job
        # counts them once, as after the upgrade that added the column (`sla_jobs.fill_response_minutes`).
        filled = timed("count the response times (worker, once)", lambda: fill_all(load_factory))
        if filled:
            print(f"  {filled:,} tickets")
            # What autovacuum does after that many updates: statistics and the visibility map.
            with loader.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                timed("VACUUM ANALYZE tickets", lambda: conn.execute(text("VACUUM ANALYZE tickets")))
        loader.dispose()
        # The report itself runs as the services do, under their statement timeout.
        engine = make_engine(url)
        factory = make_session_factory(engine)
        print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        for attempt in (1, 2):
            with factory() as s:
                report = timed(f"quarterly_report, all breaches (run {attempt})",
                               lambda s=s: quarterly_report(s, "Budapest Demo Kft.", "2026Q3", now=NOW))
        with factory() as s:
            timed("quarterly_report, first 500 breaches (the page's)",
                  lambda s=s: quarterly_report(s, "Budapest Demo Kft.", "2026Q3", now=NOW, breach_limit=500))
        print(f"  tickets {report.total.tickets:,}, measured {report.total.measured:,}, within "
              f"{report.total.within:,}, breaches {report.breach_count:,}, median {report.total.median_hours:.2f} h")
        timed("CSV export (all breaches)", lambda: quarterly_csv(report))
        timed("PDF export", lambda: quarterly_pdf(report))

        settings = load_settings(env={"CALLCENTER_DATABASE_URL": url})
        settings.secret_key = "bench"
        app = create_app(settings, engine)
        app.config["CLOCK"] = lambda: NOW
        client = app.test_client()
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))[1]
        client.post("/login", data={"login": "manager", "password": "demo", "csrf_token": token})
        query = f"company={report.company_id}&quarter=2026Q3"
        pages = []
        for attempt in ("first request", "again"):
            t0 = time.perf_counter()
            page = client.get(f"/console/reports/quarterly?{query}")
            pages.append(time.perf_counter() - t0)
            print(f"{'HTML page /console/reports/quarterly (' + attempt + ')':<38} {pages[-1]:7.3f} s")
            assert page.status_code == 200, page.status_code
        pdf = timed("PDF download (request end to end)", lambda: client.get(f"/console/reports/quarterly.pdf?{query}"))
        assert pdf.data.startswith(b"%PDF")
        csv_page = timed("CSV download (request end to end)",
                         lambda: client.get(f"/console/reports/quarterly.csv?{query}"))
        assert csv_page.status_code == 200
        print(f"goal: the HTML page of {N:,} tickets under 2 s on PostgreSQL: {min(pages):.2f} s "
              f"{'PASS' if min(pages) < 2 else 'FAIL'}")
        engine.dispose()
    finally:
        if not KEEP:
            with admin_engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()


if __name__ == "__main__":
    main()
