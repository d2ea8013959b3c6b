"""SLA clock tests.  Expected values were checked by hand against holidays 0.109.

Results are compared as local ISO strings: they show the offset (so a DST mistake is
visible in the failure message) and tell the two occurrences of a repeated hour apart,
which ``==`` between differently-zoned datetimes does not do reliably (PEP 495).
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest

from callcenter.sla_clock import (
    CalendarHasNoWorkingTime,
    WorkingCalendar,
    add_working_time,
    pauses_from_history,
    working_time_between,
)

BUD = ZoneInfo("Europe/Budapest")
ATH = ZoneInfo("Europe/Athens")
H = timedelta(hours=1)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
ALL_DAYS = (*WEEKDAYS, "sat", "sun")


def office(zone: str, country: str | None, hours: str = "08:00-17:00") -> WorkingCalendar:
    return WorkingCalendar.from_spec(zone, {d: [hours] for d in WEEKDAYS}, holiday_country=country)


def night(zone: str) -> WorkingCalendar:
    return WorkingCalendar.from_spec(zone, {d: ["22:00-06:00"] for d in ALL_DAYS})


BUD_OFFICE = office("Europe/Budapest", "HU")
ATH_OFFICE = office("Europe/Athens", "GR")
ATH_7H = office("Europe/Athens", "GR", "09:00-16:00")
BUD_NIGHT = night("Europe/Budapest")
ATH_NIGHT = night("Europe/Athens")
BUD_247 = WorkingCalendar.around_the_clock("Europe/Budapest")
ATH_247 = WorkingCalendar.around_the_clock("Europe/Athens")


def deadline(cal: WorkingCalendar, start: datetime, hours: float, pauses=()) -> str:
    result = add_working_time(start, timedelta(hours=hours), cal, pauses)
    assert result is not None
    assert result.tzinfo is UTC
    return result.astimezone(ZoneInfo(cal.zone)).isoformat()


def test_library_version_matches_the_checked_expectations():
    # Bridge days and working Saturdays arrive with holidays releases: re-check the
    # expectations below whenever this pin moves.
    assert holidays.__version__ == "0.109"


# --- Part A.8 test list -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("cal", "start", "hours", "expected"),
    [
        pytest.param(
            BUD_OFFICE,
            datetime(2025, 3, 28, 15, tzinfo=BUD),
            4,
            "2025-03-31T10:00:00+02:00",
            id="spring-dst-budapest",
        ),
        # 23 Oct National Day, 24 Oct day off substituted from Sat 18 Oct.
        pytest.param(
            BUD_OFFICE,
            datetime(2025, 10, 22, 15, tzinfo=BUD),
            4,
            "2025-10-27T10:00:00+01:00",
            id="autumn-dst-hu-holiday-bridge",
        ),
        # 5 h on Friday, 7 h on the working Saturday 17 May (it borrows Friday's 08-17).
        pytest.param(
            BUD_OFFICE,
            datetime(2025, 5, 16, 12, tzinfo=BUD),
            12,
            "2025-05-17T15:00:00+02:00",
            id="hu-working-saturday",
        ),
        # 1 May Labour Day, 2 May day off substituted from 17 May.
        pytest.param(
            BUD_OFFICE,
            datetime(2025, 4, 30, 16, tzinfo=BUD),
            2,
            "2025-05-05T09:00:00+02:00",
            id="hu-substituted-day-off",
        ),
        # 24 Dec 2025 is a day off (substituted from Sat 13 Dec), then 25-26 Dec.
        pytest.param(
            BUD_OFFICE,
            datetime(2025, 12, 23, 16, 30, tzinfo=BUD),
            1,
            "2025-12-29T08:30:00+01:00",
            id="hu-dec-24-day-off",
        ),
        pytest.param(
            ATH_OFFICE,
            datetime(2025, 10, 24, 15, tzinfo=ATH),
            4,
            "2025-10-27T10:00:00+02:00",
            id="athens-autumn-dst",
        ),
        # Good Friday 18 Apr, Easter Monday 21 Apr 2025 (Orthodox and Western Easter coincide).
        pytest.param(
            ATH_OFFICE,
            datetime(2025, 4, 17, 16, tzinfo=ATH),
            2,
            "2025-04-22T09:00:00+03:00",
            id="gr-orthodox-easter",
        ),
        # Starts on Good Friday 30 Apr 2027; Sat 1 May Labour Day, Mon 3 May Easter Monday,
        # Tue 4 May "Labor Day (observed)".
        pytest.param(
            ATH_OFFICE,
            datetime(2027, 4, 30, 16, tzinfo=ATH),
            2,
            "2027-05-05T10:00:00+03:00",
            id="gr-labour-day-observed-2027",
        ),
        pytest.param(
            BUD_247,
            datetime(2025, 3, 29, 12, tzinfo=BUD),
            24,
            "2025-03-30T13:00:00+02:00",
            id="247-spring-dst",
        ),
        pytest.param(
            BUD_247,
            datetime(2025, 10, 25, 12, tzinfo=BUD),
            24,
            "2025-10-26T11:00:00+01:00",
            id="247-autumn-dst",
        ),
        pytest.param(
            BUD_OFFICE,
            datetime(2025, 6, 2, 6, 30, tzinfo=BUD),
            1,
            "2025-06-02T09:00:00+02:00",
            id="start-before-opening",
        ),
        pytest.param(
            BUD_OFFICE,
            datetime(2025, 6, 1, 10, tzinfo=BUD),
            0,
            "2025-06-02T08:00:00+02:00",
            id="zero-duration-outside-hours",
        ),
        pytest.param(
            BUD_NIGHT,
            datetime(2025, 3, 29, 21, tzinfo=BUD),
            6,
            "2025-03-30T05:00:00+02:00",
            id="night-spring-dst",
        ),
        pytest.param(
            BUD_NIGHT,
            datetime(2025, 10, 25, 21, tzinfo=BUD),
            6,
            "2025-10-26T03:00:00+01:00",
            id="night-autumn-dst",
        ),
    ],
)
def test_reference_table(cal, start, hours, expected):
    assert deadline(cal, start, hours) == expected


def test_holiday_facts_used_by_the_table():
    hu = holidays.country_holidays("HU", years=(2025, 2026))
    assert {
        date(2025, 5, 17),
        date(2025, 10, 18),
        date(2025, 12, 13),
        date(2026, 1, 10),
        date(2026, 8, 8),
    } <= hu.weekend_workdays
    for off in ("2025-05-02", "2025-10-24", "2025-12-24", "2026-01-02", "2026-08-21"):
        assert "substituted" in hu[off]
    gr = holidays.country_holidays("GR", years=2027)
    assert gr["2027-05-04"] == "Labor Day (observed)"
    # Greek Christmas Eve is only a half_day-category entry, so it is a working day.
    assert date(2025, 12, 24) not in holidays.country_holidays("GR", years=2025)
    assert ATH_OFFICE.is_working_day(date(2025, 12, 24))


def test_is_working_day_uses_local_dates_and_overrides():
    assert BUD_OFFICE.is_working_day(date(2025, 5, 17))  # working Saturday
    assert not BUD_OFFICE.is_working_day(date(2025, 5, 24))  # ordinary Saturday
    assert not BUD_OFFICE.is_working_day(date(2025, 5, 2))  # substituted day off
    assert not BUD_OFFICE.is_working_day(date(2026, 1, 1))
    cal = WorkingCalendar.from_spec(
        "Europe/Budapest",
        {d: ["08:00-17:00"] for d in WEEKDAYS},
        "HU",
        extra_working_days=["2025-05-02", date(2025, 5, 24)],
        days_off=["2025-06-03"],
    )
    assert cal.is_working_day(date(2025, 5, 2))
    assert cal.is_working_day(date(2025, 5, 24))
    assert not cal.is_working_day(date(2025, 6, 3))
    # 23:30 UTC on 31 Dec is already New Year's Day in Budapest: closed.
    assert not BUD_OFFICE.is_open_at(datetime(2025, 12, 31, 23, 30, tzinfo=UTC))
    assert BUD_OFFICE.is_open_at(datetime(2025, 6, 2, 6, 0, tzinfo=UTC))  # 08:00 local
    assert not BUD_OFFICE.is_open_at(datetime(2025, 6, 2, 15, 0, tzinfo=UTC))  # 17:00 local


# --- DST weekends of 2026 -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("cal", "start", "hours", "expected"),
    [
        # 29 Mar 2026 01:00 UTC: Budapest 02->03, Athens 03->04; 25 Oct 2026 back again.
        pytest.param(
            BUD_247,
            datetime(2026, 3, 28, 12, tzinfo=BUD),
            24,
            "2026-03-29T13:00:00+02:00",
            id="247-bud-spring",
        ),
        pytest.param(
            BUD_247,
            datetime(2026, 10, 24, 12, tzinfo=BUD),
            24,
            "2026-10-25T11:00:00+01:00",
            id="247-bud-autumn",
        ),
        pytest.param(
            ATH_247,
            datetime(2026, 3, 28, 12, tzinfo=ATH),
            24,
            "2026-03-29T13:00:00+03:00",
            id="247-ath-spring",
        ),
        pytest.param(
            ATH_247,
            datetime(2026, 10, 24, 12, tzinfo=ATH),
            24,
            "2026-10-25T11:00:00+02:00",
            id="247-ath-autumn",
        ),
        # The 22-06 night is 7 h long in spring and 9 h in autumn.
        pytest.param(
            BUD_NIGHT,
            datetime(2026, 3, 28, 21, tzinfo=BUD),
            6,
            "2026-03-29T05:00:00+02:00",
            id="night-bud-spring",
        ),
        pytest.param(
            BUD_NIGHT,
            datetime(2026, 3, 28, 21, tzinfo=BUD),
            8,
            "2026-03-29T23:00:00+02:00",
            id="night-bud-spring-spills-to-next-night",
        ),
        pytest.param(
            BUD_NIGHT,
            datetime(2026, 10, 24, 21, tzinfo=BUD),
            6,
            "2026-10-25T03:00:00+01:00",
            id="night-bud-autumn",
        ),
        pytest.param(
            BUD_NIGHT,
            datetime(2026, 10, 24, 21, tzinfo=BUD),
            9,
            "2026-10-25T06:00:00+01:00",
            id="night-bud-autumn-whole-night",
        ),
        # Both occurrences of the repeated 02:xx hour are told apart.
        pytest.param(
            BUD_NIGHT,
            datetime(2026, 10, 24, 22, tzinfo=BUD),
            4.5,
            "2026-10-25T02:30:00+02:00",
            id="night-bud-autumn-first-0230",
        ),
        pytest.param(
            BUD_NIGHT,
            datetime(2026, 10, 24, 22, tzinfo=BUD),
            5.5,
            "2026-10-25T02:30:00+01:00",
            id="night-bud-autumn-second-0230",
        ),
        pytest.param(
            ATH_NIGHT,
            datetime(2026, 3, 28, 21, tzinfo=ATH),
            6,
            "2026-03-29T05:00:00+03:00",
            id="night-ath-spring",
        ),
        # 01:00 UTC is the change itself: the second 03:00 in Athens.
        pytest.param(
            ATH_NIGHT,
            datetime(2026, 10, 24, 21, tzinfo=ATH),
            6,
            "2026-10-25T03:00:00+02:00",
            id="night-ath-autumn",
        ),
    ],
)
def test_dst_weekends_2026(cal, start, hours, expected):
    assert deadline(cal, start, hours) == expected


@pytest.mark.parametrize(
    ("cal", "day", "hours"),
    [
        (BUD_247, date(2026, 3, 29), 23),
        (BUD_247, date(2026, 10, 25), 25),
        (ATH_247, date(2026, 3, 29), 23),
        (ATH_247, date(2026, 10, 25), 25),
    ],
)
def test_247_counts_real_elapsed_time_on_dst_days(cal, day, hours):
    tz = ZoneInfo(cal.zone)
    t0 = datetime.combine(day, time(0), tz)
    t1 = datetime.combine(day + timedelta(days=1), time(0), tz)
    assert working_time_between(t0, t1, cal) == timedelta(hours=hours)


def test_night_lengths_on_dst_nights_2026():
    def night_of(cal: WorkingCalendar, day: date) -> timedelta:
        tz = ZoneInfo(cal.zone)
        return working_time_between(
            datetime.combine(day, time(12), tz), datetime.combine(day + timedelta(days=1), time(12), tz), cal
        )

    assert night_of(BUD_NIGHT, date(2026, 3, 28)) == 7 * H
    assert night_of(BUD_NIGHT, date(2026, 10, 24)) == 9 * H
    assert night_of(ATH_NIGHT, date(2026, 3, 28)) == 7 * H
    assert night_of(ATH_NIGHT, date(2026, 10, 24)) == 9 * H
    assert night_of(BUD_NIGHT, date(2026, 6, 6)) == 8 * H


# --- everyday cases -----------------------------------------------------------------------


def test_friday_afternoon_into_monday():
    # 1.5 h on Friday 6 Mar 2026, 2.5 h on Monday 9 Mar.
    assert deadline(BUD_OFFICE, datetime(2026, 3, 6, 15, 30, tzinfo=BUD), 4) == "2026-03-09T10:30:00+01:00"


def test_deadline_exactly_at_closing_stays_on_that_day():
    assert deadline(BUD_OFFICE, datetime(2026, 3, 6, 15, tzinfo=BUD), 2) == "2026-03-06T17:00:00+01:00"


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        (datetime(2026, 2, 2, 10, tzinfo=ATH), 8, "2026-02-03T11:00:00+02:00"),  # 6 h Mon + 2 h Tue
        (datetime(2026, 2, 2, 14, tzinfo=ATH), 4, "2026-02-03T11:00:00+02:00"),  # 2 h Mon + 2 h Tue
        # 1 h Fri 20 Feb; Mon 23 Feb 2026 is Green Monday.
        (datetime(2026, 2, 20, 15, tzinfo=ATH), 2, "2026-02-24T10:00:00+02:00"),
    ],
)
def test_seven_hour_day_athens(start, hours, expected):
    assert deadline(ATH_7H, start, hours) == expected


@pytest.mark.parametrize(
    ("hours", "expected"),
    [(8, "2026-06-17T09:00:00+02:00"), (4, "2026-06-16T14:00:00+02:00"), (2, "2026-06-16T12:00:00+02:00")],
)
def test_example_targets_8_4_2_hours(hours, expected):
    assert deadline(BUD_OFFICE, datetime(2026, 6, 16, 10, tzinfo=BUD), hours) == expected


def test_result_is_utc_and_accepts_any_aware_input():
    start_utc = datetime(2026, 6, 16, 8, tzinfo=UTC)  # 10:00 Budapest
    result = add_working_time(start_utc, 2 * H, BUD_OFFICE)
    assert result == datetime(2026, 6, 16, 10, tzinfo=UTC)
    assert result.tzinfo is UTC


# --- pauses -------------------------------------------------------------------------------


CREATED = datetime(2026, 6, 15, 9, tzinfo=BUD)  # Monday


def test_pause_moves_deadline_by_the_paused_working_time():
    plain = add_working_time(CREATED, 8 * H, BUD_OFFICE)
    assert plain.astimezone(BUD).isoformat() == "2026-06-15T17:00:00+02:00"
    # Waiting for the customer from Mon 11:00 to Tue 10:00: 6 h + 2 h of working time.
    pause = (datetime(2026, 6, 15, 11, tzinfo=BUD), datetime(2026, 6, 16, 10, tzinfo=BUD))
    paused_work = working_time_between(*pause, BUD_OFFICE)
    assert paused_work == 8 * H
    moved = add_working_time(CREATED, 8 * H, BUD_OFFICE, [pause])
    assert moved == add_working_time(plain, paused_work, BUD_OFFICE)
    # 2 h Mon 09-11, then 6 h from Tue 10:00.
    assert moved.astimezone(BUD).isoformat() == "2026-06-16T16:00:00+02:00"
    # Pause outside working hours changes nothing.
    evening = (datetime(2026, 6, 15, 18, tzinfo=BUD), datetime(2026, 6, 16, 7, tzinfo=BUD))
    assert add_working_time(CREATED, 9 * H, BUD_OFFICE, [evening]) == add_working_time(
        CREATED, 9 * H, BUD_OFFICE
    )


def test_open_pause_stops_the_clock():
    still_waiting = [(datetime(2026, 6, 15, 11, tzinfo=BUD), None)]
    assert add_working_time(CREATED, 8 * H, BUD_OFFICE, still_waiting) is None
    # Deadline reached before the open pause began: unaffected.
    late_pause = [(datetime(2026, 6, 15, 17, 30, tzinfo=BUD), None)]
    assert deadline(BUD_OFFICE, CREATED, 8, late_pause) == "2026-06-15T17:00:00+02:00"
    # Elapsed time stops counting at the open pause.
    assert (
        working_time_between(CREATED, datetime(2026, 6, 17, 12, tzinfo=BUD), BUD_OFFICE, still_waiting)
        == 2 * H
    )


def test_pauses_from_history():
    def at(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 6, day, hour, minute, tzinfo=BUD)

    history = [
        (at(15, 9), "new"),
        (at(15, 10), "open"),
        (at(15, 11), "pending_customer"),
        (at(16, 10), "open"),
        (at(16, 12), "pending_customer"),
        (at(16, 12, 30), "pending_reminder"),  # paused -> paused: same pause goes on
        (at(16, 13), "open"),
        (at(17, 9), "pending_customer"),
    ]
    pauses = pauses_from_history(history, {"pending_customer", "pending_reminder"})
    assert pauses == [(at(15, 11), at(16, 10)), (at(16, 12), at(16, 13)), (at(17, 9), None)]
    assert all(p[0].tzinfo is UTC for p in pauses)
    closed = pauses_from_history(history[:-1], {"pending_customer", "pending_reminder"})
    assert closed[-1] == (at(16, 12), at(16, 13))
    with pytest.raises(ValueError, match="time order"):
        pauses_from_history([(at(16, 9), "open"), (at(15, 9), "new")], {"pending_customer"})


def test_sla_change_replays_history():
    # Pauses come from the status history, so switching the contract's calendar simply
    # recomputes the same history under the new calendar.
    history = [
        (CREATED, "open"),
        (datetime(2026, 6, 15, 11, tzinfo=BUD), "pending_customer"),
        (datetime(2026, 6, 16, 10, tzinfo=BUD), "open"),
    ]
    pauses = pauses_from_history(history, {"pending_customer"})
    assert deadline(BUD_OFFICE, CREATED, 8, pauses) == "2026-06-16T16:00:00+02:00"
    # 24/7: 2 h before the pause, 6 h after Tue 10:00.
    assert deadline(BUD_247, CREATED, 8, pauses) == "2026-06-16T16:00:00+02:00"


# --- consistency --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cal", [BUD_OFFICE, ATH_7H, BUD_NIGHT, ATH_247], ids=lambda c: c.zone + str(c.windows[0])
)
def test_add_then_measure_gives_back_the_duration(cal):
    rng = random.Random(20260329)
    base = datetime(2025, 1, 1, tzinfo=UTC)
    for _ in range(400):
        start = base + timedelta(seconds=rng.randrange(3 * 365 * 86400))
        duration = timedelta(minutes=rng.randrange(0, 40 * 60))
        pauses = []
        if rng.random() < 0.5:
            p0 = start + timedelta(minutes=rng.randrange(-600, 3000))
            pauses.append((p0, p0 + timedelta(minutes=rng.randrange(1, 3000))))
        end = add_working_time(start, duration, cal, pauses)
        assert end >= start
        assert working_time_between(start, end, cal, pauses) == duration
        assert working_time_between(end, start, cal, pauses) == -duration


def test_zero_duration_inside_hours_is_the_start_itself():
    start = datetime(2026, 6, 16, 10, 17, 3, tzinfo=BUD)
    assert add_working_time(start, timedelta(0), BUD_OFFICE) == start


# --- validation ---------------------------------------------------------------------------


def test_naive_datetimes_are_rejected():
    naive = datetime(2026, 6, 16, 10)
    with pytest.raises(ValueError, match="naive"):
        add_working_time(naive, H, BUD_OFFICE)
    with pytest.raises(ValueError, match="naive"):
        working_time_between(naive, naive, BUD_OFFICE)
    with pytest.raises(ValueError, match="naive"):
        add_working_time(CREATED, H, BUD_OFFICE, [(naive, None)])
    with pytest.raises(ValueError, match="naive"):
        BUD_OFFICE.is_open_at(naive)


def test_empty_calendar_raises():
    with pytest.raises(CalendarHasNoWorkingTime):
        WorkingCalendar.from_spec("Europe/Budapest", {}, "HU")
    with pytest.raises(CalendarHasNoWorkingTime):
        WorkingCalendar.from_spec("Europe/Budapest", {"mon": [], "tue": []})
    # Windows exist but every date is closed: the search gives up instead of looping.
    closed_forever = WorkingCalendar.from_spec(
        "Europe/Athens",
        {"mon": ["08:00-17:00"]},
        days_off=[date(2026, 1, 5) + timedelta(weeks=w) for w in range(300)],
    )
    with pytest.raises(CalendarHasNoWorkingTime):
        add_working_time(datetime(2026, 1, 1, tzinfo=UTC), H, closed_forever)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"zone": "Europe/Nowhere"}, "time zone"),
        ({"weekly": {"mon": ["8-17"]}}, "HH:MM"),
        ({"weekly": {"mon": ["08:00-25:00"]}}, "out of range"),
        ({"weekly": {"mon": ["08:00-08:00"]}}, "same time"),
        ({"weekly": {"funday": ["08:00-17:00"]}}, "weekday"),
        ({"weekly": {"mon": "08:00-17:00"}}, "list"),
        ({"holiday_country": "XX"}, "holiday country"),
        ({"days_off": ["2026-13-01"]}, "YYYY-MM-DD"),
    ],
)
def test_bad_specs_are_rejected(kwargs, message):
    args = {"zone": "Europe/Budapest", "weekly": {"mon": ["08:00-17:00"]}} | kwargs
    with pytest.raises(ValueError, match=message):
        WorkingCalendar.from_spec(**args)


def test_spec_parsing_splits_midnight_and_allows_24_00():
    cal = WorkingCalendar.from_spec("Europe/Budapest", {"fri": ["22:00-06:00"], "sat": ["18:00-24:00"]})
    assert cal.windows[4] == ((time(22), time(0)),)
    assert cal.windows[5] == ((time(0), time(6)), (time(18), time(0)))
    # Saturday 23:59 counts up to midnight: no one-minute gap.
    assert (
        working_time_between(datetime(2026, 6, 20, 18, tzinfo=BUD), datetime(2026, 6, 21, 0, tzinfo=BUD), cal)
        == 6 * H
    )
    # Overlapping windows merge.
    merged = WorkingCalendar.from_spec("Europe/Budapest", {"mon": ["08:00-12:00", "11:00-17:00"]})
    assert merged.windows[0] == ((time(8), time(17)),)


def test_calendar_is_hashable_value_object():
    again = office("Europe/Budapest", "HU")
    add_working_time(CREATED, H, BUD_OFFICE)  # fills BUD_OFFICE's cache only
    assert again == BUD_OFFICE and hash(again) == hash(BUD_OFFICE)
    assert len({again, BUD_OFFICE, ATH_OFFICE}) == 2
    assert BUD_247.always_open and BUD_247.is_working_day(date(2025, 12, 25))
