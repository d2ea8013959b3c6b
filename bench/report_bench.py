"""Quarterly SLA report on 100,000 tickets: render times.  Run: python bench/report_bench.py

Creates a fresh PostgreSQL database (dropped afterwards), bulk-inserts N tickets of one customer in
2026Q3 (about 5 % of them with a waiting-for-customer pause in their status history), then times
the report computation, the HTML page, the CSV and the PDF. Goal: under 2 s on PostgreSQL.

    BENCH_PG_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres  (default)
    BENCH_TICKETS=100000                                                (default)
"""

from __future__ import annotations

import os
import random
import re
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
from callcenter.models import Company, Ticket, TicketEvent  # noqa: E402
from callcenter.sla import clock_calendar, response_target  # noqa: E402
from callcenter.sla_clock import add_working_time  # noqa: E402

ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
N = int(os.environ.get("BENCH_TICKETS", "100000"))
QUARTER_START = datetime(2026, 6, 30, 22, tzinfo=UTC)  # 2026-07-01 00:00 Budapest
NOW = datetime(2026, 10, 6, 8, tzinfo=UTC)
CATEGORIES = ["user"] * 5 + ["system"] * 3 + ["infrastructure"] * 2 + ["complaint"]


def populate(factory) -> None:  # noqa: ANN001
    rng = random.Random(7)
    with factory() as s:
        seed_demo(s, NOW)
        s.commit()
        company = s.scalar(select(Company).where(Company.name == "Budapest Demo Kft."))
        contract = company.contracts[0]
        targets = {c: response_target(contract, c) for c in set(CATEGORIES)}
        cal = clock_calendar(contract, "working")
        tickets, events = [], []
        for i in range(N):
            category = rng.choice(CATEGORIES)
            target = targets[category]
            created = QUARTER_START + timedelta(seconds=rng.randrange(91 * 86400))
            due = add_working_time(created, target.duration, cal)
            answered = rng.random() < 0.97
            responded = created + timedelta(minutes=rng.randrange(5, 60 * 30)) if answered else None
            status = rng.choice(["in_progress", "resolved", "closed"]) if answered else "new"
            tickets.append({
                "id": i + 1, "number": 15000 + i, "subject": f"Bench ticket {i}", "description": "",
                "channel": rng.choice(["phone", "email", "web"]), "category": category, "priority": "normal",
                "status": status, "level": "L1", "company_id": company.id, "contract_id": contract.id,
                "created_at": created, "updated_at": created, "sla_started_at": created,
                "sla_response_minutes": target.minutes, "sla_clock": target.clock, "response_due_at": due,
                "responded_at": responded, "sla_paused": False, "reopen_count": 0,
                "response_breached": (responded or NOW) > due,
            })
            events.append({"ticket_id": i + 1, "at": created, "kind": "created", "actor_kind": "system",
                           "changes": {"status": [None, "new"]}, "public": True})
            if answered and rng.random() < 0.05:
                pause = created + (responded - created) / 3
                events.append({"ticket_id": i + 1, "at": pause, "kind": "status", "actor_kind": "system",
                               "changes": {"status": ["new", "waiting_customer"]}, "public": True})
                events.append({"ticket_id": i + 1, "at": responded, "kind": "status", "actor_kind": "system",
                               "changes": {"status": ["waiting_customer", "in_progress"]}, "public": True})
            elif answered:
                events.append({"ticket_id": i + 1, "at": responded, "kind": "status", "actor_kind": "system",
                               "changes": {"status": ["new", "in_progress"]}, "public": True})
        for start in range(0, len(tickets), 5000):
            s.execute(insert(Ticket), tickets[start:start + 5000])
        for start in range(0, len(events), 5000):
            s.execute(insert(TicketEvent), events[start:start + 5000])
        s.execute(text("SELECT setval(pg_get_serial_sequence('tickets', 'id'), (SELECT max(id) FROM tickets))"))
        s.commit()
    with factory() as s:
        s.execute(text("ANALYZE"))
        s.commit()


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
    name = f"hotline_bench_{uuid.uuid4().hex[:8]}"
    admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        timed(f"bulk insert {N:,} tickets", lambda: populate(factory))
        for attempt in (1, 2):
            with factory() as s:
                report = timed(f"quarterly_report (run {attempt})",
                               lambda s=s: quarterly_report(s, "Budapest Demo Kft.", "2026Q3", now=NOW))
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
        page = timed("HTML page /console/reports/quarterly",
                     lambda: client.get(f"/console/reports/quarterly?{query}"))
        assert page.status_code == 200, page.status_code
        pdf = timed("PDF download (request end to end)", lambda: client.get(f"/console/reports/quarterly.pdf?{query}"))
        assert pdf.data.startswith(b"%PDF")
        engine.dispose()
    finally:
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()


if __name__ == "__main__":
    main()
