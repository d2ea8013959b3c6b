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


def main() -> None:
    print(f"deadlines/s: {bench_deadlines():,.0f}")


if __name__ == "__main__":
    main()
