"""Hotline statistics against hand-computed figures on a known set of calls (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from call_data import make_call

from callcenter.models import CallOutcome
from callcenter.report_export import hotline_csv
from callcenter.reports import WAIT_BUCKETS, quarter_hotline_stats

MON, TUE, WED, THU = 0, 1, 2, 3


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def calls(session, demo):  # noqa: ANN001, ANN201
    bud, ath = demo.budapest, demo.athens
    anna, nikos = demo.anna, demo.nikos
    A = CallOutcome
    # Budapest threshold 600 s, Athens 900 s. Local times in Budapest (CEST, UTC+2 until 25 October).
    make_call(session, utc(2026, 10, 5, 7, 0), company=bud, contact=anna, wait=120, answered=True,
              outcome=A.ANSWERED)                                             # Mon 09:00, within
    make_call(session, utc(2026, 10, 5, 7, 30), company=bud, contact=anna, wait=700, answered=True,
              outcome=A.ANSWERED)                                             # Mon 09:30, late for Budapest
    make_call(session, utc(2026, 10, 5, 7, 45), company=ath, contact=nikos, wait=700, answered=True,
              outcome=A.ANSWERED)                                             # Mon 09:45, within for Athens
    make_call(session, utc(2026, 10, 6, 12, 10), company=bud, contact=anna, wait=45,
              outcome=A.ABANDONED_IN_QUEUE)                                   # Tue 14:10, abandoned
    make_call(session, utc(2026, 10, 6, 12, 20), company=ath, contact=nikos, wait=900,
              outcome=A.UNANSWERED_MESSAGE)                                   # Tue 14:20, unanswered
    make_call(session, utc(2026, 10, 7, 18, 5), queued=False, outcome=A.SALES)  # Wed 20:05, not contracted
    make_call(session, utc(2026, 10, 8, 7, 0), company=bud, contact=anna, ended=False,
              outcome=A.CRITICAL_QUEUED)                                      # Thu 09:00, still waiting
    make_call(session, utc(2026, 9, 30, 21, 59), company=bud, contact=anna, queued=False,
              outcome=A.HANGUP_IN_MENU)                                       # Wed 30 Sep 23:59: Q3
    make_call(session, utc(2026, 9, 30, 22, 0), company=bud, contact=anna, queued=False,
              outcome=A.HANGUP_IN_MENU)                                       # Thu 1 Oct 00:00: Q4
    make_call(session, utc(2026, 10, 26, 8, 30), company=bud, contact=anna, queued=False,
              outcome=A.TICKET_STATUS)                                        # Mon 09:30 CET (UTC+1)
    session.commit()


def test_all_companies_in_budapest_time(session, calls) -> None:  # noqa: ANN001
    s = quarter_hotline_stats(session, "2026Q4", now=utc(2026, 10, 8, 8, 0))
    assert s.calls == 9
    assert (s.queued, s.answered, s.answered_within, s.abandoned, s.unanswered, s.waiting) == (6, 3, 2, 1, 1, 1)
    assert s.answered_within_share == pytest.approx(2 / 5)
    assert s.abandoned_share == pytest.approx(1 / 5)
    assert s.mean_wait_seconds == pytest.approx((120 + 700 + 700 + 45 + 900) / 5)
    assert s.max_wait_seconds == 900
    # < 30 s, 30-60 s, 1-2 min, 2-5 min, 5-10 min, 10-15 min, >= 15 min (upper bounds exclusive)
    assert [n for _label, n in s.wait_buckets] == [0, 1, 0, 1, 0, 2, 1]
    assert [label for label, _n in s.wait_buckets] == [label for label, _limit in WAIT_BUCKETS]
    grid = s.hour_of_week
    assert grid[MON][9] == 4          # three in CEST and one after the switch to CET
    assert grid[TUE][14] == 2
    assert grid[WED][20] == 1
    assert grid[THU][9] == 1 and grid[THU][0] == 1
    assert sum(map(sum, grid)) == 9
    assert dict(s.by_outcome)["answered"] == 3


def test_one_company_in_its_own_time_zone(session, demo, calls) -> None:  # noqa: ANN001
    s = quarter_hotline_stats(session, "2026Q4", now=utc(2026, 10, 8, 8, 0), company_id=demo.athens.id)
    assert s.timezone == "Europe/Athens" and s.company_name == "Athens Demo A.E."
    assert (s.calls, s.queued, s.answered, s.answered_within, s.abandoned, s.unanswered) == (2, 2, 1, 1, 0, 1)
    assert s.hour_of_week[MON][10] == 1 and s.hour_of_week[TUE][15] == 1


def test_the_boundary_call_belongs_to_the_previous_quarter(session, calls) -> None:  # noqa: ANN001
    s = quarter_hotline_stats(session, "2026Q3", now=utc(2026, 10, 8, 8, 0))
    assert s.calls == 1 and s.hour_of_week[WED][23] == 1


def test_csv_export(session, calls) -> None:  # noqa: ANN001
    rows = list(csv.reader(io.StringIO(hotline_csv(quarter_hotline_stats(session, "2026Q4",
                                                                         now=utc(2026, 10, 8, 8, 0))))))
    figures = {r[0]: r[1] for r in rows if len(r) == 2}
    assert figures["calls"] == "9" and figures["answered_within_threshold"] == "2"
    assert figures["answered_within_share"] == "40.0%" and figures["abandoned"] == "1"
    monday = next(r for r in rows if r and r[0] == "Mon")
    assert monday[1 + 9] == "4"
