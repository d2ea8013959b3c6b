"""Business-hours SLA arithmetic on ``zoneinfo`` + ``holidays``.

Working time is *real elapsed time*: every window is built from a local date and a local
wall time, turned into an aware datetime and then into UTC, so the hour lost or gained at a
DST change is counted as it really passed.  All comparisons and results are in UTC.

Pure module: no database, no Flask, so the clock can be unit-tested and benchmarked alone.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

__all__ = [
    "CalendarHasNoWorkingTime",
    "WorkingCalendar",
    "add_working_time",
    "pauses_from_history",
    "working_time_between",
]

_ZERO = timedelta(0)
_END_OF_DAY = time(0)  # as a close time: 24:00, the end of the local day
# A calendar with weekly windows always has working time within a week; three years of
# nothing means the input (e.g. a huge days_off set) is broken, not that we should loop on.
_MAX_IDLE_DAYS = 3 * 366
# Per-calendar window cache bound; a year of dates is ~365 entries, so this is many years.
_MAX_CACHED_DAYS = 20_000

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")

Window = tuple[time, time]
Pause = tuple[datetime, datetime | None]


class CalendarHasNoWorkingTime(ValueError):
    """The calendar never opens (or not within ~3 years of the start instant)."""


# --- holidays --------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _holiday_year(country: str, year: int) -> tuple[frozenset[date], frozenset[date]]:
    """(closed dates, working weekend dates) of one country and year.

    Built once per year: ``holidays`` objects are slow to query and ``weekend_workdays``
    only contains the years that have been populated.
    """
    h = holidays.country_holidays(country, years=year)
    return frozenset(h.keys()), frozenset(h.weekend_workdays)


def _check_country(country: str) -> None:
    try:
        holidays.country_holidays(country)
    except NotImplementedError as exc:
        raise ValueError(f"unknown holiday country {country!r}") from exc


# --- calendar --------------------------------------------------------------------------


def _to_date(value: date | str) -> date:
    if isinstance(value, datetime):
        # A datetime would silently drop its zone; dates here are *local calendar* dates.
        raise ValueError(f"expected a local date, got a datetime: {value!r}")
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"bad date {value!r}: expected YYYY-MM-DD") from exc


def _parse_window(text: str) -> tuple[time, time, bool]:
    """Parse "HH:MM-HH:MM"; returns (open, close, crosses_midnight)."""
    m = _WINDOW_RE.match(text) if isinstance(text, str) else None
    if not m:
        raise ValueError(f"bad window {text!r}: expected 'HH:MM-HH:MM'")
    oh, om, ch, cm = (int(g) for g in m.groups())
    if om > 59 or cm > 59 or oh > 23 or ch > 24 or (ch == 24 and cm):
        raise ValueError(f"bad window {text!r}: time out of range (close may be 24:00)")
    opening = time(oh, om)
    closing = _END_OF_DAY if ch == 24 else time(ch, cm)
    if closing == _END_OF_DAY or closing > opening:
        return opening, closing, False
    if closing == opening:
        raise ValueError(f"bad window {text!r}: opens and closes at the same time")
    return opening, closing, True


def _merge_windows(windows: Iterable[Window]) -> tuple[Window, ...]:
    # Sort key puts an end-of-day close after every other close.
    def close_key(t: time) -> tuple[int, time]:
        return (1, t) if t == _END_OF_DAY else (0, t)

    merged: list[list[time]] = []
    for opening, closing in sorted(windows, key=lambda w: (w[0], close_key(w[1]))):
        if merged and close_key(opening) <= close_key(merged[-1][1]):
            if close_key(closing) > close_key(merged[-1][1]):
                merged[-1][1] = closing
        else:
            merged.append([opening, closing])
    return tuple((o, c) for o, c in merged)


def _merge_intervals(pieces: list[tuple[datetime, datetime]]) -> tuple[tuple[datetime, datetime], ...]:
    pieces.sort()
    out: list[tuple[datetime, datetime]] = []
    for s, e in pieces:
        if e <= s:
            continue  # a window that vanished in a DST gap
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return tuple(out)


@dataclass(frozen=True)
class WorkingCalendar:
    """Weekly local windows in one IANA zone, minus holidays and days off.

    ``windows[weekday]`` holds local ``(open, close)`` pairs, Monday = 0; a close of
    ``time(0)`` means 24:00.  Windows crossing midnight are split by :meth:`from_spec`; the
    part after midnight belongs to the next weekday and so follows *that* date's holiday
    status.

    A weekend date that is nevertheless a working day (Hungary's working Saturdays, or an
    ``extra_working_days`` entry) whose weekday has no window of its own borrows the windows
    of the nearest preceding weekday that has some (Friday for a Mon–Fri calendar).
    """

    zone: str
    windows: tuple[tuple[Window, ...], ...]
    holiday_country: str | None
    extra_working_days: frozenset[date] = frozenset()
    days_off: frozenset[date] = frozenset()
    always_open: bool = False
    # Per-instance caches; excluded from eq/hash so the calendar stays a value object.
    _tz: ZoneInfo = field(init=False, repr=False, compare=False, hash=False)
    _days: dict[int, tuple[tuple[datetime, datetime], ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        try:
            tz = ZoneInfo(self.zone)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
            raise ValueError(f"unknown time zone {self.zone!r}") from exc
        object.__setattr__(self, "_tz", tz)
        if self.holiday_country is not None:
            _check_country(self.holiday_country)
        # Coerce lists given by direct construction so hashing keeps working.
        windows = tuple(tuple((o, c) for o, c in day) for day in self.windows)
        object.__setattr__(self, "windows", windows)
        if len(windows) != 7:
            raise ValueError("windows must have 7 entries, Monday first")
        for day in self.windows:
            for opening, closing in day:
                if not (closing == _END_OF_DAY or closing > opening):
                    raise ValueError(
                        f"bad window {opening}-{closing}: close must be after open "
                        "(split windows that cross midnight; use time(0) for 24:00)"
                    )
        object.__setattr__(self, "extra_working_days", frozenset(self.extra_working_days))
        object.__setattr__(self, "days_off", frozenset(self.days_off))
        both = self.extra_working_days & self.days_off
        if both:
            raise ValueError(f"dates both worked and off: {sorted(both)}")
        if self.always_open and self.days_off:
            raise ValueError("a 24/7 calendar counts every instant; it cannot have days off")
        if not self.always_open and not any(self.windows):
            raise CalendarHasNoWorkingTime("the calendar has no working window on any weekday")

    # --- construction ---

    @classmethod
    def from_spec(
        cls,
        zone: str,
        weekly: dict[str, list[str]],
        holiday_country: str | None = None,
        extra_working_days: Iterable[date | str] = (),
        days_off: Iterable[date | str] = (),
        always_open: bool = False,
    ) -> WorkingCalendar:
        """Build from ``{"mon": ["08:00-17:00"], ...}``; a missing day is closed."""
        if always_open:
            if weekly:
                raise ValueError("a 24/7 calendar takes no weekly windows")
            full = ((time(0), _END_OF_DAY),)
            return cls(
                zone,
                (full,) * 7,
                holiday_country,
                frozenset(map(_to_date, extra_working_days)),
                frozenset(map(_to_date, days_off)),
                True,
            )
        per_day: list[list[Window]] = [[] for _ in range(7)]
        for name, spans in (weekly or {}).items():
            key = name.strip().lower()[:3] if isinstance(name, str) else None
            if key not in _DAY_NAMES:
                raise ValueError(f"bad weekday {name!r}: expected one of {', '.join(_DAY_NAMES)}")
            if isinstance(spans, str):
                raise ValueError(f"windows of {name!r} must be a list of 'HH:MM-HH:MM' strings")
            wd = _DAY_NAMES.index(key)
            for span in spans:
                opening, closing, crosses = _parse_window(span)
                if crosses:
                    per_day[wd].append((opening, _END_OF_DAY))
                    if closing != time(0):
                        per_day[(wd + 1) % 7].append((time(0), closing))
                else:
                    per_day[wd].append((opening, closing))
        windows = tuple(_merge_windows(d) for d in per_day)
        return cls(
            zone,
            windows,
            holiday_country,
            frozenset(map(_to_date, extra_working_days)),
            frozenset(map(_to_date, days_off)),
            False,
        )

    @classmethod
    def around_the_clock(cls, zone: str) -> WorkingCalendar:
        """24/7 standby: every instant counts, holidays ignored."""
        return cls.from_spec(zone, {}, always_open=True)

    # --- queries ---

    def is_working_day(self, d: date) -> bool:
        """Whether the *local* date ``d`` has working hours (pass a local date, not UTC)."""
        if self.always_open:
            return True
        if d in self.days_off:
            return False
        if d in self.extra_working_days:
            return True
        has_windows = bool(self.windows[d.weekday()])
        if self.holiday_country is None:
            return has_windows
        closed, weekend_workdays = _holiday_year(self.holiday_country, d.year)
        if d in closed:
            return False
        return has_windows or d in weekend_workdays

    def is_open_at(self, t: datetime) -> bool:
        t = _as_utc(t, "t")
        ordinal = t.astimezone(self._tz).toordinal()
        for o in (ordinal - 1, ordinal):
            for s, e in self._pieces(o):
                if s <= t < e:
                    return True
        return False

    # --- internals ---

    def _windows_of(self, d: date) -> tuple[Window, ...]:
        wd = d.weekday()
        if self.windows[wd]:
            return self.windows[wd]
        for back in range(1, 7):
            borrowed = self.windows[(wd - back) % 7]
            if borrowed:
                return borrowed
        return ()

    def _pieces(self, ordinal: int) -> tuple[tuple[datetime, datetime], ...]:
        """Working intervals of one local date, in UTC, merged and sorted."""
        cached = self._days.get(ordinal)
        if cached is not None:
            return cached
        d = date.fromordinal(ordinal)
        pieces: list[tuple[datetime, datetime]] = []
        if self.is_working_day(d):
            tz = self._tz
            nxt = date.fromordinal(ordinal + 1)
            for opening, closing in self._windows_of(d):
                # Wall time -> aware -> UTC.  fold=0: an ambiguous time is its first
                # occurrence, a non-existent one is read with the pre-change offset.
                s = datetime.combine(d, opening, tz).astimezone(UTC)
                if closing == _END_OF_DAY:
                    e = datetime.combine(nxt, time(0), tz).astimezone(UTC)
                else:
                    e = datetime.combine(d, closing, tz).astimezone(UTC)
                pieces.append((s, e))
        result = _merge_intervals(pieces)
        if len(self._days) >= _MAX_CACHED_DAYS:
            self._days.clear()
        self._days[ordinal] = result
        return result


# --- arithmetic ------------------------------------------------------------------------


def _as_utc(t: datetime, name: str) -> datetime:
    if not isinstance(t, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(t).__name__}")
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{name} is a naive datetime; pass an aware one (e.g. tzinfo=UTC)")
    return t if t.tzinfo is UTC else t.astimezone(UTC)


def _normalise_pauses(
    pauses: Sequence[Pause],
) -> tuple[list[tuple[datetime, datetime]], datetime | None]:
    """Merged closed pauses in UTC, and the start of the earliest open pause (or None)."""
    closed: list[tuple[datetime, datetime]] = []
    horizon: datetime | None = None
    for p_start, p_end in pauses:
        s = _as_utc(p_start, "pause start")
        if p_end is None:
            horizon = s if horizon is None or s < horizon else horizon
            continue
        e = _as_utc(p_end, "pause end")
        if e > s:
            closed.append((s, e))
    closed.sort()
    merged: list[tuple[datetime, datetime]] = []
    for s, e in closed:
        if merged and s <= merged[-1][1]:
            if e > merged[-1][1]:
                merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged, horizon


def _segments(
    cal: WorkingCalendar,
    start: datetime,
    paused: list[tuple[datetime, datetime]],
    horizon: datetime | None,
    stop_ordinal: int | None = None,
) -> Iterator[tuple[datetime, datetime]]:
    """Countable UTC intervals at/after ``start``: windows minus pauses, in time order.

    Ends at an open pause (``horizon``) or after local day ``stop_ordinal``.
    """
    ordinal = start.astimezone(cal._tz).toordinal()
    # Skip pauses that ended before we start; the rest are consumed in order.
    pi = bisect_right([e for _, e in paused], start) if paused else 0
    n = len(paused)
    idle = 0
    while stop_ordinal is None or ordinal <= stop_ordinal:
        pieces = cal._pieces(ordinal)
        if pieces:
            idle = 0
        else:
            idle += 1
            if idle > _MAX_IDLE_DAYS:
                raise CalendarHasNoWorkingTime(
                    f"no working time in {_MAX_IDLE_DAYS} days after {date.fromordinal(ordinal - idle)}"
                )
        for ws, we in pieces:
            if we <= start:
                continue
            s = ws if ws > start else start
            while s < we:
                if horizon is not None and s >= horizon:
                    return
                while pi < n and paused[pi][1] <= s:
                    pi += 1
                if pi < n and paused[pi][0] <= s:
                    s = paused[pi][1]
                    continue
                e = we
                if pi < n and paused[pi][0] < e:
                    e = paused[pi][0]
                if horizon is not None and horizon < e:
                    e = horizon
                yield s, e
                s = e
        ordinal += 1


def add_working_time(
    start: datetime,
    duration: timedelta,
    cal: WorkingCalendar,
    pauses: Sequence[Pause] = (),
) -> datetime | None:
    """The instant (aware, UTC) when ``duration`` of working time has elapsed after ``start``.

    ``duration == 0`` gives the first working instant at or after ``start``.  ``pauses`` are
    intervals that do not count; a pause with end ``None`` stops the clock for good, so if the
    deadline is not reached before it starts the result is ``None``.
    """
    start_utc = _as_utc(start, "start")
    if duration < _ZERO:
        raise ValueError(f"duration must not be negative, got {duration}")
    if not pauses:
        # Hot path (no pauses): same walk as _segments without generator overhead.
        remaining = duration
        ordinal = start_utc.astimezone(cal._tz).toordinal()
        idle = 0
        pieces_of = cal._pieces
        while True:
            pieces = pieces_of(ordinal)
            if pieces:
                idle = 0
                for ws, we in pieces:
                    if we <= start_utc:
                        continue
                    s = ws if ws > start_utc else start_utc
                    avail = we - s
                    if remaining <= avail:
                        return s + remaining
                    remaining -= avail
            else:
                idle += 1
                if idle > _MAX_IDLE_DAYS:
                    raise CalendarHasNoWorkingTime(
                        f"no working time in {_MAX_IDLE_DAYS} days after {date.fromordinal(ordinal - idle)}"
                    )
            ordinal += 1
    paused, horizon = _normalise_pauses(pauses)
    remaining = duration
    for s, e in _segments(cal, start_utc, paused, horizon):
        avail = e - s
        if remaining <= avail:
            return s + remaining
        remaining -= avail
    return None  # the segments ran into an open pause: the clock is stopped


def working_time_between(
    t0: datetime,
    t1: datetime,
    cal: WorkingCalendar,
    pauses: Sequence[Pause] = (),
) -> timedelta:
    """Working time elapsed in ``[t0, t1)``, minus pauses; negative when ``t1 < t0``."""
    a = _as_utc(t0, "t0")
    b = _as_utc(t1, "t1")
    if b < a:
        return -working_time_between(b, a, cal, pauses)
    paused, horizon = _normalise_pauses(pauses)
    stop_ordinal = b.astimezone(cal._tz).toordinal()
    total = _ZERO
    for s, e in _segments(cal, a, paused, horizon, stop_ordinal):
        if s >= b:
            break
        total += (e if e < b else b) - s
    return total


def pauses_from_history(
    transitions: Iterable[tuple[datetime, str]],
    paused_statuses: Collection[str],
) -> list[Pause]:
    """Intervals spent in a paused status, from an append-only ``(at, new_status)`` history.

    Moving between two paused statuses continues the same pause; a pause still running at
    the end of the history has end ``None``.
    """
    out: list[Pause] = []
    paused_since: datetime | None = None
    previous: datetime | None = None
    for at, status in transitions:
        at = _as_utc(at, "transition time")
        if previous is not None and at < previous:
            raise ValueError(f"status history is not in time order at {at.isoformat()}")
        previous = at
        if status in paused_statuses:
            if paused_since is None:
                paused_since = at
        elif paused_since is not None:
            if at > paused_since:
                out.append((paused_since, at))
            paused_since = None
    if paused_since is not None:
        out.append((paused_since, None))
    return out
