"""Throughput figures for the SLA clock.  Run: python bench/sla_bench.py

Target: at least 50,000 add_working_time computations per second on one core for 2–8 h
durations on a Mon–Fri 08:00–17:00 Europe/Budapest HU calendar.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Run from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callcenter.sla_clock import WorkingCalendar, add_working_time  # noqa: E402

N_DEADLINES = 200_000
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)


def budapest_office() -> WorkingCalendar:
    return WorkingCalendar.from_spec(
        "Europe/Budapest",
        {d: ["08:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
        holiday_country="HU",
    )


def bench_deadlines(n: int = N_DEADLINES, seed: int = 1) -> float:
    """add_working_time calls per second: random starts over 2026, 2–8 h durations."""
    cal = budapest_office()
    rng = random.Random(seed)
    year_seconds = 365 * 86400
    # Inputs are made before timing so only the clock itself is measured.
    starts = [YEAR_START + timedelta(seconds=rng.randrange(year_seconds)) for _ in range(n)]
    durations = [timedelta(minutes=rng.randrange(120, 481)) for _ in range(n)]
    t0 = time.perf_counter()
    for start, duration in zip(starts, durations, strict=True):
        add_working_time(start, duration, cal)
    return n / (time.perf_counter() - t0)


def bench_ticket_creation(url: str, n: int = 500) -> tuple[float, float]:
    """Tickets created per second (each with its event, SLA deadline and commit) and the median ms."""
    from callcenter.db import make_engine, make_session_factory
    from callcenter.demo import seed_demo
    from callcenter.migrate import upgrade
    from callcenter.models import Contact
    from callcenter.tickets import NewTicket, create_ticket

    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    now = datetime(2026, 10, 6, 8, 0, tzinfo=UTC)
    with factory() as s:
        seed_demo(s, now)
        s.commit()
        anna_id = s.query(Contact.id).filter(Contact.name == "Kovács Anna").scalar()
    samples = []
    t0 = time.perf_counter()
    for i in range(n):
        t1 = time.perf_counter()
        with factory() as s:
            create_ticket(s, NewTicket(subject=f"bench {i}", channel="api", category="system",
                                       reporter_contact_id=anna_id), now=now + timedelta(minutes=i))
            s.commit()
        samples.append(time.perf_counter() - t1)
    total = time.perf_counter() - t0
    engine.dispose()
    samples.sort()
    return n / total, samples[len(samples) // 2] * 1000


def _postgres_url() -> str | None:
    import uuid

    from sqlalchemy import create_engine, text

    admin = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    try:
        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        name = f"hotline_bench_{uuid.uuid4().hex[:8]}"
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
    except Exception as exc:  # no server: say so and skip that line
        print(f"PostgreSQL not reachable ({type(exc).__name__}); skipping its figures")
        return None
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def main() -> None:
    import tempfile

    print(f"deadlines/s: {bench_deadlines():,.0f}   (goal >= 50,000)")
    with tempfile.TemporaryDirectory() as tmp:
        rate, median = bench_ticket_creation(f"sqlite:///{tmp}/bench.sqlite")
        print(f"SQLite: ticket creations/s: {rate:,.0f}, median {median:.2f} ms   (goal < 5 ms median)")
    url = _postgres_url()
    if url:
        rate, median = bench_ticket_creation(url)
        print(f"PostgreSQL: ticket creations/s: {rate:,.0f}, median {median:.2f} ms")


if __name__ == "__main__":
    main()
