"""The quarterly SLA report: what each customer's contract promised and what was delivered.

Response times come from `Ticket.response_minutes`, counted once when a ticket is responded to
(`sla.keep_response_minutes`; the worker fills older tickets), so a quarter of a million tickets is a
few SQL aggregates: counts, the worst, and on PostgreSQL the median (`percentile_cont`). A kept
figure counts only while it was counted against the contract's calendar as it is today; any other
responded ticket is counted here as before, in the contract's working time with pauses excluded (a
cumulative working-time index per calendar for tickets without pauses). Both ways give the same
figures; tests/test_reports_fast.py checks it on random data.
"""

from __future__ import annotations

import heapq
import statistics
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import Float, Integer, Text, and_, case, cast, func, literal, literal_column, null, or_, select, text
from sqlalchemy.orm import Session

from .customers import find_company
from .models import PAUSED_STATUSES, ClockKind, Contract, Ticket, TicketEvent
from .reports import Quarter, _company_zone, _epoch
from .sla import clock_calendar, response_basis
from .sla_clock import WorkingCalendar, pauses_from_history, working_time_between

# A millisecond of float rounding must not turn an on-time response into a breach.
ROUNDING_MINUTES = 1e-4


class CumulativeClock:
    """Working seconds elapsed since a base day, so an interval is two binary searches, not a walk.

    Times are POSIX seconds (floats). Only for intervals without pauses; paused tickets go through
    `working_time_between`.
    """

    GROW_DAYS = 62

    def __init__(self, cal: WorkingCalendar, base: date) -> None:
        self.cal = cal
        self._next_ordinal = base.toordinal() - 2
        self._floor = datetime.combine(date.fromordinal(self._next_ordinal), datetime.min.time(), UTC).timestamp()
        self._starts: list[float] = []
        self._ends: list[float] = []
        self._before: list[float] = []  # working seconds before each piece starts
        self._grow()

    def _grow(self) -> None:
        total = self._before[-1] + (self._ends[-1] - self._starts[-1]) if self._starts else 0.0
        for ordinal in range(self._next_ordinal, self._next_ordinal + self.GROW_DAYS):
            for s, e in self.cal._pieces(ordinal):
                a, b = s.timestamp(), e.timestamp()
                self._starts.append(a)
                self._ends.append(b)
                self._before.append(total)
                total += b - a
        self._next_ordinal += self.GROW_DAYS
        # Everything before this instant is covered by the pieces built so far.
        self._horizon = datetime.combine(date.fromordinal(self._next_ordinal - 1), datetime.min.time(),
                                         UTC).timestamp()

    def at(self, t: float) -> float | None:
        if t < self._floor + 2 * 86400:
            return None
        while t >= self._horizon:
            self._grow()
        i = bisect_right(self._starts, t) - 1
        if i < 0:
            return 0.0
        return self._before[i] + (min(t, self._ends[i]) - self._starts[i])

    def minutes_between(self, t0: datetime | float, t1: datetime | float) -> float:
        a0 = t0.timestamp() if isinstance(t0, datetime) else t0
        b0 = t1.timestamp() if isinstance(t1, datetime) else t1
        floor = self._floor + 2 * 86400
        if floor <= a0 <= b0 < self._horizon:
            # The common case, inlined: both ends inside the built range.
            starts, ends, before = self._starts, self._ends, self._before
            i = bisect_right(starts, a0) - 1
            j = bisect_right(starts, b0) - 1
            a = before[i] + (min(a0, ends[i]) - starts[i]) if i >= 0 else 0.0
            b = before[j] + (min(b0, ends[j]) - starts[j]) if j >= 0 else 0.0
            return (b - a) / 60
        a, b = self.at(a0), self.at(b0)
        if a is None or b is None:
            return working_time_between(_dt(a0), _dt(b0), self.cal).total_seconds() / 60
        return (b - a) / 60


def _dt(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


# --- the report ------------------------------------------------------------------------------


@dataclass
class CategoryFigures:
    category: str
    tickets: int = 0
    with_target: int = 0
    target_minutes: int | None = None
    measured: int = 0          # responded, or past the deadline without a response
    within: int = 0            # responded within the target
    breached: int = 0
    pending: int = 0           # not responded, deadline not yet passed (or clock paused)
    response_minutes: list[float] = field(default_factory=list, repr=False)
    # Set when the database computed them (then `response_minutes` stays empty).
    known_median_minutes: float | None = field(default=None, repr=False)
    known_worst_minutes: float | None = field(default=None, repr=False)

    @property
    def share_within(self) -> float | None:
        return self.within / self.measured if self.measured else None

    @property
    def median_hours(self) -> float | None:
        if self.known_median_minutes is not None:
            return self.known_median_minutes / 60
        return statistics.median(self.response_minutes) / 60 if self.response_minutes else None

    @property
    def worst_hours(self) -> float | None:
        if self.known_worst_minutes is not None:
            return self.known_worst_minutes / 60
        return max(self.response_minutes) / 60 if self.response_minutes else None


@dataclass(frozen=True)
class Breach:
    number: int
    subject: str
    category: str
    created_at: datetime
    due_at: datetime | None
    responded_at: datetime | None
    response_hours: float | None   # None while still unanswered
    target_hours: float


@dataclass
class QuarterlyReport:
    company_id: int
    company_name: str
    quarter: Quarter
    start: datetime
    end: datetime
    as_of: datetime
    timezone: str
    contract_name: str | None
    package: str | None
    targets: list[tuple[str, int, str]]
    categories: list[CategoryFigures]
    total: CategoryFigures
    breaches: list[Breach]      # in order of creation; the first `breach_limit` when one was given
    breach_count: int


def _pauses_by_ticket(session: Session, ticket_ids: object) -> dict[int, list[tuple[datetime, str]]]:
    """Status histories of the given tickets that ever paused; all others have no pauses."""
    paused_names = sorted(str(s) for s in PAUSED_STATUSES)
    cond = or_(*[cast(TicketEvent.changes, Text).like(f"%{name}%") for name in paused_names])
    paused_ids = select(TicketEvent.ticket_id).where(TicketEvent.ticket_id.in_(ticket_ids),
                                                     TicketEvent.kind == "status", cond)
    history: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    rows = session.execute(
        select(TicketEvent.ticket_id, TicketEvent.at, TicketEvent.changes)
        .where(TicketEvent.ticket_id.in_(paused_ids), TicketEvent.kind == "status")
        .order_by(TicketEvent.ticket_id, TicketEvent.at, TicketEvent.id)
    )
    for ticket_id, at, changes in rows:
        if "status" in (changes or {}):
            history[ticket_id].append((at, changes["status"][1]))
    return history


def _count(cond) -> object:  # noqa: ANN001
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def quarterly_report(session: Session, company_name_or_id: str | int, quarter: Quarter | str, *,
                     now: datetime, breach_limit: int | None = None) -> QuarterlyReport:
    """What the contract promised and what was delivered, for one customer and one quarter.

    `breach_limit`: list only the first so many breaches (a page, a PDF); `breach_count` is always all."""
    if isinstance(quarter, str):
        quarter = Quarter.parse(quarter)
    company = find_company(session, company_name_or_id)
    zone, contract = _company_zone(session, company, quarter.first_day)
    start, end = quarter.bounds(zone)
    as_of = min(now, end)

    contracts = {c.id: c for c in session.scalars(select(Contract).where(Contract.company_id == company.id))}
    in_quarter = and_(Ticket.company_id == company.id, Ticket.created_at >= start, Ticket.created_at < end)
    with_clock = and_(in_quarter, Ticket.sla_response_minutes.is_not(None), Ticket.sla_started_at.is_not(None))
    current = [response_basis(c, clock) for c in contracts.values() for clock in (ClockKind.WORKING,
                                                                                 ClockKind.CALENDAR)]
    responded = Ticket.responded_at.is_not(None)
    kept = and_(responded, Ticket.response_minutes.is_not(None), Ticket.response_minutes_basis.in_(current))
    # Responded, but no figure kept for today's calendar: counted below, as it always was.
    count_here = and_(responded, Ticket.contract_id.in_(list(contracts)),
                      or_(Ticket.response_minutes.is_(None), Ticket.response_minutes_basis.is_(None),
                          Ticket.response_minutes_basis.not_in(current)))
    limit = cast(Ticket.sla_response_minutes, Float) + cast(literal(ROUNDING_MINUTES), Float)
    late_kept = and_(kept, Ticket.response_minutes > limit)
    late_unanswered = and_(~responded, or_(Ticket.response_breached.is_(True),
                                           and_(Ticket.response_due_at.is_not(None), Ticket.response_due_at <= as_of)))

    # One pass over the quarter: every count per category, and (on PostgreSQL) how the kept response times
    # spread over narrow buckets, from which the medians are read. On PostgreSQL the pass is two queries,
    # each through an index that holds every column it reads: the responded tickets with a figure (the
    # bulk of a quarter, migration 0100's index on the bucket) and all others (0101's partial index).
    postgresql = session.get_bind().dialect.name == "postgresql"
    clocked = and_(Ticket.sla_response_minutes.is_not(None), Ticket.sla_started_at.is_not(None))
    timed = and_(clocked, kept)
    without_figure = _without_figure()
    row = select(
        Ticket.category.label("category"), case((timed, _bucket(session))).label("bucket"),
        Ticket.sla_response_minutes.is_not(None).label("has_target"), clocked.label("clocked"),
        case((clocked, Ticket.sla_response_minutes)).label("target"), timed.label("timed"),
        and_(timed, ~late_kept).label("within"), and_(clocked, late_unanswered).label("late"),
        and_(clocked, ~responded, ~late_unanswered).label("pending"), and_(clocked, count_here).label("here"),
    ).where(in_quarter, *([without_figure] if postgresql else [])).subquery()
    if postgresql:
        # A few thousand groups, which the planner cannot tell from the bucket expression: hash them in
        # memory instead of sorting the quarter on disk, in parallel workers that each aggregate a part
        # of the quarter (the planner, expecting a group per row, would not hand the partial groups
        # over); compiling these queries to machine code (JIT) would take longer than running them.
        session.execute(text("SET LOCAL work_mem = '64MB'"))
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text("SET LOCAL enable_sort = off"))
        session.execute(text("SET LOCAL parallel_setup_cost = 0"))
        session.execute(text("SET LOCAL parallel_tuple_cost = 0"))
    figures: dict[str, CategoryFigures] = {}
    spread: dict[str, dict[int, int]] = defaultdict(dict)
    to_count = 0
    for (category, bucket, count, with_target, target, n_kept, n_within, n_late, n_pending, n_here) in session.execute(
        select(row.c.category, row.c.bucket, func.count(), func.count().filter(row.c.has_target),
               func.max(row.c.target), func.count().filter(row.c.timed), func.count().filter(row.c.within),
               func.count().filter(row.c.late), func.count().filter(row.c.pending), func.count().filter(row.c.here))
        .group_by(row.c.category, row.c.bucket)
    ):
        fig = figures.get(category) or figures.setdefault(category, CategoryFigures(category))
        fig.tickets += int(count)
        fig.with_target += int(with_target)
        if target is not None:
            fig.target_minutes = target if fig.target_minutes is None else max(fig.target_minutes, target)
        fig.measured += int(n_kept) + int(n_late)
        fig.within += int(n_within)
        fig.breached += int(n_kept) - int(n_within) + int(n_late)
        fig.pending += int(n_pending)
        to_count += int(n_here)
        if bucket is not None:
            spread[category][int(bucket)] = int(n_kept)
    if postgresql:
        to_count += _count_with_figures(session, and_(in_quarter, ~without_figure), current, limit, figures, spread)
    buckets = _bucket(session)

    if postgresql:
        for setting in ("enable_sort", "parallel_setup_cost", "parallel_tuple_cost"):
            session.execute(text(f"SET LOCAL {setting} TO DEFAULT"))
    counted: list[tuple[datetime, int, Breach]] = []
    if to_count:
        counted = _count_responses(session, figures, contracts, quarter, and_(with_clock, count_here))

    categories = sorted(figures.values(), key=lambda f: (-f.tickets, f.category))
    total = CategoryFigures("total")
    for f in categories:
        total.tickets += f.tickets
        total.with_target += f.with_target
        total.measured += f.measured
        total.within += f.within
        total.breached += f.breached
        total.pending += f.pending
    if not to_count and spread:
        _medians_from_buckets(session, and_(with_clock, kept), buckets, spread, figures, total)
    else:
        for category, minutes in session.execute(select(Ticket.category, Ticket.response_minutes)
                                                 .where(with_clock, kept)):
            figures[category].response_minutes.append(minutes)
        for f in categories:
            total.response_minutes.extend(f.response_minutes)

    breaches = _kept_breaches(session, and_(with_clock, or_(late_kept, late_unanswered)), breach_limit)
    if counted:
        breaches = list(heapq.merge(breaches, counted, key=lambda b: (b[0], b[1])))
    breach_count = total.breached
    listed = [b for _created, _id, b in (breaches if breach_limit is None else breaches[:breach_limit])]
    targets = [(t.category, t.response_minutes, t.clock) for t in contract.sla_targets] if contract else []
    return QuarterlyReport(
        company_id=company.id, company_name=company.name, quarter=quarter, start=start, end=end, as_of=as_of,
        timezone=zone, contract_name=contract.name if contract else None,
        package=contract.package if contract else None, targets=targets, categories=categories, total=total,
        breaches=listed, breach_count=breach_count,
    )


# A narrow bucket of a response time, about 1.6 % of its value wide. Written with literal constants:
# migration 0100's index is on exactly this expression, and the planner matches an index's expression
# only as written (bound parameters would not match).
BUCKET_SQL = ("CASE WHEN tickets.response_minutes > 0 THEN floor(ln(tickets.response_minutes + 1) * 64)::integer + 1 "
              "ELSE 0 END")


def _bucket(session: Session):  # noqa: ANN202
    """A response time's bucket on PostgreSQL; None elsewhere (SQLite has no logarithm everywhere:
    there the medians come from the values themselves)."""
    if session.get_bind().dialect.name != "postgresql":
        return null()
    return literal_column(f"({BUCKET_SQL})", Integer)


def _without_figure():  # noqa: ANN202
    """Tickets the report cannot read a kept figure of: as migration 0101's index predicate writes it,
    so that the planner proves the index applies."""
    return or_(Ticket.response_minutes.is_(None), Ticket.responded_at.is_(None), Ticket.sla_response_minutes.is_(None),
               Ticket.sla_started_at.is_(None))


def _count_with_figures(session: Session, where: object, current: list[int], limit: object,
                        figures: dict[str, CategoryFigures], spread: dict[str, dict[int, int]]) -> int:
    """The first pass over the responded tickets that have a figure and a target (PostgreSQL): added to
    `figures` and `spread`; returns how many of them have a figure for another calendar than today's
    (counted by `_count_responses`, whose own query picks exactly the ones it counts)."""
    row = select(Ticket.category.label("category"), Ticket.response_minutes_basis.in_(current).label("kept"),
                 _bucket(session).label("bucket"), Ticket.sla_response_minutes.label("target"),
                 (Ticket.response_minutes > limit).label("late")).where(where).subquery()
    stale = 0
    for category, kept, bucket, count, n_late, target in session.execute(
        select(row.c.category, row.c.kept, row.c.bucket, func.count(), func.count().filter(row.c.late),
               func.max(row.c.target)).group_by(row.c.category, row.c.kept, row.c.bucket)
    ):
        fig = figures.get(category) or figures.setdefault(category, CategoryFigures(category))
        count, n_late = int(count), int(n_late)
        fig.tickets += count
        fig.with_target += count
        fig.target_minutes = target if fig.target_minutes is None else max(fig.target_minutes, target)
        if kept:
            fig.measured += count
            fig.within += count - n_late
            fig.breached += n_late
            spread[category][int(bucket)] = spread[category].get(int(bucket), 0) + count
        else:
            stale += count
    return stale


def _kth_buckets(spread: dict[int, int], ranks: tuple[int, ...]) -> set[int]:
    """The buckets that hold the values of these ranks (0 = smallest)."""
    found, seen = set(), 0
    for bucket in sorted(spread):
        for rank in ranks:
            if seen <= rank < seen + spread[bucket]:
                found.add(bucket)
        seen += spread[bucket]
    return found


def _medians_from_buckets(session: Session, where: object, buckets: object, spread: dict[str, dict[int, int]],
                          figures: dict[str, CategoryFigures], total: CategoryFigures) -> None:
    """Exact medians and worst times without sorting the quarter: only the values in the buckets that
    hold a median or a worst time are read (through the index on the bucket: a few thousand rows), then
    ranked here."""
    overall: dict[int, int] = defaultdict(int)
    for per_category in spread.values():
        for bucket, n in per_category.items():
            overall[bucket] += n

    def ranks(n: int) -> tuple[int, ...]:
        return ((n - 1) // 2, n // 2)

    wanted = {category: _kth_buckets(per, ranks(sum(per.values()))) for category, per in spread.items()}
    wanted_overall = _kth_buckets(overall, ranks(sum(overall.values())))
    tops = {category: max(per) for category, per in spread.items()}
    wanted_all = wanted_overall | set(tops.values())
    # One list of buckets for every category, so that the index serves it as one range scan per bucket;
    # a category's values outside its own buckets are dropped here.
    every = set(wanted_all).union(*wanted.values())
    values: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for category, bucket, minutes in session.execute(
        select(Ticket.category, buckets, Ticket.response_minutes).where(where, buckets.in_(sorted(every)))
    ):
        bucket = int(bucket)
        if bucket in wanted_all or bucket in wanted.get(category, ()):
            values[category][bucket].append(minutes)

    def median(per_bucket: dict[int, int], chosen: dict[int, list[float]]) -> float:
        n = sum(per_bucket.values())
        below, picked = 0, {}
        for bucket in sorted(per_bucket):
            if bucket in chosen:
                ordered = sorted(chosen[bucket])
                for rank in ranks(n):
                    if below <= rank < below + len(ordered):
                        picked[rank] = ordered[rank - below]
            below += per_bucket[bucket]
        low, high = picked[ranks(n)[0]], picked[ranks(n)[1]]
        return low if n % 2 else (low + high) / 2  # as statistics.median

    for category, per_bucket in spread.items():
        fig = figures[category]
        fig.known_median_minutes = median(per_bucket, values[category])
        fig.known_worst_minutes = max(values[category][tops[category]])
    merged: dict[int, list[float]] = defaultdict(list)
    for per_bucket in values.values():
        for bucket, found in per_bucket.items():
            if bucket in wanted_overall:
                merged[bucket].extend(found)
    total.known_median_minutes = median(overall, merged)
    total.known_worst_minutes = max(fig.known_worst_minutes for fig in figures.values()
                                    if fig.known_worst_minutes is not None)


def _kept_breaches(session: Session, where: object, limit: int | None) -> list[tuple[datetime, int, Breach]]:
    query = (select(Ticket.created_at, Ticket.id, Ticket.number, Ticket.subject, Ticket.category,
                    Ticket.response_due_at, Ticket.responded_at, Ticket.response_minutes, Ticket.sla_response_minutes)
             .where(where).order_by(Ticket.created_at, Ticket.id))
    if limit is not None:
        query = query.limit(limit)
    out = []
    for created, tid, number, subject, category, due, responded_at, minutes, target in session.execute(query):
        hours = None if responded_at is None else minutes / 60
        out.append((created, tid, Breach(number, subject, category, created, due, responded_at, hours, target / 60)))
    return out


def _count_responses(session: Session, figures: dict[str, CategoryFigures], contracts: dict[int, Contract],
                     quarter: Quarter, where: object) -> list[tuple[datetime, int, Breach]]:
    """Responded tickets without a kept figure: their working time counted here, in the contract's
    calendar with pauses excluded (as `sla.working_minutes_to_respond`), added to `figures`."""
    rows = session.execute(
        select(Ticket.id, Ticket.number, Ticket.subject, Ticket.category, Ticket.contract_id, Ticket.sla_clock,
               Ticket.sla_response_minutes, _epoch(session, Ticket.sla_started_at),
               _epoch(session, Ticket.responded_at), Ticket.created_at, Ticket.response_due_at, Ticket.responded_at)
        .where(where).order_by(Ticket.created_at, Ticket.id)
    ).all()
    history = _pauses_by_ticket(session, [r[0] for r in rows]) if rows else {}
    clocks: dict[tuple[int, str], CumulativeClock] = {}
    breaches = []
    for tid, number, subject, category, contract_id, clock, target, started, responded, created, due, responded_at \
            in rows:
        fig = figures[category]
        clock = clock or ClockKind.WORKING
        ticket_contract = contracts[contract_id]
        if tid in history:
            started_at = _dt(started)
            pauses = [p for p in pauses_from_history(history[tid], PAUSED_STATUSES)
                      if p[1] is None or p[1] > started_at]
            cal = clock_calendar(ticket_contract, clock)
            minutes = working_time_between(started_at, _dt(responded), cal, pauses).total_seconds() / 60
        else:
            key = (contract_id, clock)
            fast = clocks.get(key)
            if fast is None:
                fast = clocks[key] = CumulativeClock(clock_calendar(ticket_contract, clock), quarter.first_day)
            minutes = fast.minutes_between(started, responded)
        fig.measured += 1
        fig.response_minutes.append(minutes)
        if minutes > target + ROUNDING_MINUTES:
            fig.breached += 1
            breaches.append((created, tid, Breach(number, subject, category, created, due, responded_at,
                                                  minutes / 60, target / 60)))
        else:
            fig.within += 1
    return breaches
