"""Reports: help-desk and hotline statistics for process improvement, and what the reports share
(quarters, time zones). The quarterly SLA report per customer is in `sla_report`.

Figures come from SQL aggregates and batched column queries, never from loading tickets or calls as
ORM objects one by one.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Float, Integer, and_, case, cast, func, select
from sqlalchemy.orm import Session

from .customers import active_contract
from .models import (
    OPEN_STATUSES,
    Company,
    Contract,
    Ticket,
    TicketEvent,
    TimeEntry,
)

DEFAULT_ZONE = "Europe/Budapest"


class ReportError(ValueError):
    pass


@dataclass(frozen=True)
class Quarter:
    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        m = re.fullmatch(r"\s*(\d{4})\s*-?\s*[Qq]([1-4])\s*", text or "")
        if not m:
            raise ReportError(f"quarter must look like 2026Q3, not {text!r}")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def containing(cls, day: date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def label(self) -> str:
        return f"{self.year}Q{self.number}"

    @property
    def first_day(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def end_day(self) -> date:
        """The first day after the quarter."""
        return date(self.year + 1, 1, 1) if self.number == 4 else date(self.year, 3 * self.number + 1, 1)

    def bounds(self, zone: str) -> tuple[datetime, datetime]:
        """[start, end) in UTC, the quarter's days read in the customer's time zone."""
        tz = ZoneInfo(zone)
        start = datetime.combine(self.first_day, datetime.min.time(), tz).astimezone(UTC)
        end = datetime.combine(self.end_day, datetime.min.time(), tz).astimezone(UTC)
        return start, end

    def previous(self) -> Quarter:
        return Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)


# --- shared by the reports ----------------------------------------------------------------


def _epoch(session: Session, column):  # noqa: ANN001, ANN202
    """A timestamp column as POSIX seconds, computed by the database (no per-row datetime objects)."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("epoch", column), Float)
    # SQLite keeps naive UTC text; julianday() reads it.
    return (func.julianday(column) - 2440587.5) * 86400.0


def _company_zone(session: Session, company: Company, on: date) -> tuple[str, Contract | None]:
    contract = active_contract(session, company.id, on)
    if contract is None and company.contracts:
        contract = company.contracts[-1]
    return (contract.timezone if contract else DEFAULT_ZONE), contract


# --- help-desk statistics --------------------------------------------------------------------


BACKLOG_BUCKETS = [("< 1 d", 1), ("1–3 d", 3), ("3–7 d", 7), ("7–30 d", 30), ("> 30 d", None)]


@dataclass
class HelpdeskStats:
    start: datetime
    end: datetime
    as_of: datetime
    company_name: str | None
    tickets: int
    by_channel: list[tuple[str, int]]
    by_category: list[tuple[str, int]]
    by_level: list[tuple[str, int]]
    reopened: int
    time_entries: int
    minutes_worked: int
    billable_hours: float
    quick_answers: int
    escalations: int
    escalations_by_level: list[tuple[str, int]]
    backlog: list[tuple[str, int]]
    backlog_total: int

    @property
    def reopen_rate(self) -> float | None:
        return self.reopened / self.tickets if self.tickets else None


def helpdesk_stats(session: Session, start: datetime, end: datetime, *, now: datetime,
                   company_id: int | None = None) -> HelpdeskStats:
    """How the help desk itself worked in [start, end): intake, reopenings, time, escalations, backlog."""
    scope = [Ticket.created_at >= start, Ticket.created_at < end]
    if company_id is not None:
        scope.append(Ticket.company_id == company_id)

    def grouped(column) -> list[tuple[str, int]]:  # noqa: ANN001
        rows = session.execute(select(column, func.count()).where(*scope).group_by(column))
        return sorted(((str(k), int(n)) for k, n in rows), key=lambda r: (-r[1], r[0]))

    tickets, reopened = session.execute(
        select(func.count(), func.sum(case((Ticket.reopen_count > 0, 1), else_=0))).where(*scope)
    ).one()

    time_scope = [TimeEntry.at >= start, TimeEntry.at < end]
    time_q = select(func.count(TimeEntry.id), func.sum(TimeEntry.minutes_worked), func.sum(TimeEntry.billable_hours),
                    func.sum(case((TimeEntry.quick_phone_answer.is_(True), 1), else_=0))).where(*time_scope)
    if company_id is not None:
        time_q = time_q.join(Ticket, Ticket.id == TimeEntry.ticket_id).where(Ticket.company_id == company_id)
    entries, minutes, hours, quick = session.execute(time_q).one()

    esc_q = select(TicketEvent.changes).where(TicketEvent.kind == "escalated", TicketEvent.at >= start,
                                              TicketEvent.at < end)
    if company_id is not None:
        esc_q = esc_q.join(Ticket, Ticket.id == TicketEvent.ticket_id).where(Ticket.company_id == company_id)
    to_level: dict[str, int] = defaultdict(int)
    escalations = 0
    for (changes,) in session.execute(esc_q):
        escalations += 1
        to_level[str((changes or {}).get("level", [None, "?"])[1])] += 1

    open_scope = [Ticket.status.in_([s.value for s in OPEN_STATUSES]), Ticket.created_at < now]
    if company_id is not None:
        open_scope.append(Ticket.company_id == company_id)
    whens = []
    for i, (_label, days) in enumerate(BACKLOG_BUCKETS):
        if days is not None:
            whens.append((Ticket.created_at > now - timedelta(days=days), i))
    bucket = case(*whens, else_=len(BACKLOG_BUCKETS) - 1)
    counts = dict(session.execute(select(bucket, func.count()).where(*open_scope).group_by(bucket)).all())
    backlog = [(label, int(counts.get(i, 0))) for i, (label, _d) in enumerate(BACKLOG_BUCKETS)]

    company_name = session.get(Company, company_id).name if company_id is not None else None
    return HelpdeskStats(
        start=start, end=end, as_of=now, company_name=company_name, tickets=int(tickets or 0),
        by_channel=grouped(Ticket.channel), by_category=grouped(Ticket.category), by_level=grouped(Ticket.level),
        reopened=int(reopened or 0), time_entries=int(entries or 0), minutes_worked=int(minutes or 0),
        billable_hours=float(hours or 0), quick_answers=int(quick or 0), escalations=escalations,
        escalations_by_level=sorted(to_level.items()), backlog=backlog, backlog_total=sum(n for _l, n in backlog),
    )


def quarter_stats(session: Session, quarter: Quarter | str, *, now: datetime,
                  company_id: int | None = None) -> HelpdeskStats:
    if isinstance(quarter, str):
        quarter = Quarter.parse(quarter)
    start, end = quarter.bounds(DEFAULT_ZONE)
    return helpdesk_stats(session, start, end, now=now, company_id=company_id)


# --- hotline statistics ----------------------------------------------------------------------


WAIT_BUCKETS = [("< 30 s", 30), ("30–60 s", 60), ("1–2 min", 120), ("2–5 min", 300), ("5–10 min", 600),
                ("10–15 min", 900), ("≥ 15 min", None)]
DEFAULT_THRESHOLD_SECONDS = 600  # callers without a contract: the shortest threshold the documents name
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass
class HotlineStats:
    start: datetime
    end: datetime
    as_of: datetime
    timezone: str
    company_name: str | None
    calls: int
    queued: int                 # calls that waited for an agent
    answered: int
    answered_within: int        # answered within the contract's no-answer threshold
    abandoned: int              # the caller hung up while queued
    unanswered: int             # left the queue unanswered for another reason (threshold, message)
    waiting: int                # still queued at `as_of`
    mean_wait_seconds: float | None
    max_wait_seconds: int | None
    wait_buckets: list[tuple[str, int]]
    by_outcome: list[tuple[str, int]]
    by_channel: list[tuple[str, int]]
    hour_of_week: list[list[int]]  # [weekday Mon=0..Sun=6][local hour 0..23]

    @property
    def answered_within_share(self) -> float | None:
        """Share of the finished queued calls that an agent answered within the threshold."""
        finished = self.queued - self.waiting
        return self.answered_within / finished if finished else None

    @property
    def abandoned_share(self) -> float | None:
        finished = self.queued - self.waiting
        return self.abandoned / finished if finished else None

    def busiest_hours(self, n: int = 5) -> list[tuple[str, int]]:
        cells = [(f"{WEEKDAY_NAMES[d]} {h:02d}:00", c) for d, row in enumerate(self.hour_of_week)
                 for h, c in enumerate(row) if c]
        return sorted(cells, key=lambda x: -x[1])[:n]


def _hour_bucket(session: Session, column):  # noqa: ANN001, ANN202
    """Whole UTC hours since the epoch, exactly (no float rounding at an hour boundary)."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.floor(func.extract("epoch", column) / 3600), Integer)
    return cast(func.strftime("%s", column), Integer) / 3600


def hotline_stats(session: Session, start: datetime, end: datetime, *, now: datetime,
                  zone: str = DEFAULT_ZONE, company_id: int | None = None) -> HotlineStats:
    """How the hotline answered in [start, end): SQL aggregates over the calls that arrived then."""
    from .models import Call, CallOutcome

    scope = [Call.arrived_at >= start, Call.arrived_at < end]
    if company_id is not None:
        scope.append(Call.company_id == company_id)
    queued = Call.queue_entered_at.is_not(None)
    answered = Call.answered_at.is_not(None)
    still_waiting = and_(queued, ~answered, Call.queue_left_at.is_(None), Call.ended_at.is_(None))
    abandoned = and_(queued, ~answered, Call.outcome == CallOutcome.ABANDONED_IN_QUEUE)
    wait = func.coalesce(Call.wait_seconds,
                         _epoch(session, Call.answered_at) - _epoch(session, Call.queue_entered_at))
    threshold = func.coalesce(Contract.no_answer_threshold_seconds, DEFAULT_THRESHOLD_SECONDS)

    def count(cond) -> object:  # noqa: ANN001
        return func.sum(case((cond, 1), else_=0))

    row = session.execute(
        select(func.count(Call.id), count(queued), count(answered), count(and_(answered, queued, wait <= threshold)),
               count(abandoned), count(still_waiting),
               func.avg(case((queued & Call.wait_seconds.is_not(None), Call.wait_seconds))),
               func.max(case((queued, Call.wait_seconds))))
        .outerjoin(Contract, Contract.id == Call.contract_id).where(*scope)
    ).one()
    calls, n_queued, n_answered, n_within, n_abandoned, n_waiting, mean_wait, max_wait = (
        int(x or 0) if i < 6 else x for i, x in enumerate(row))
    # Answered calls that never queued (a direct transfer) count as answered, not as queued.
    n_answered_queued = session.scalar(select(func.count(Call.id)).where(*scope, queued, answered)) or 0
    unanswered = n_queued - n_answered_queued - n_abandoned - n_waiting

    whens = [(Call.wait_seconds < limit, i) for i, (_label, limit) in enumerate(WAIT_BUCKETS) if limit is not None]
    bucket = case(*whens, else_=len(WAIT_BUCKETS) - 1)
    counts = dict(session.execute(select(bucket, func.count()).where(*scope, queued, Call.wait_seconds.is_not(None))
                                  .group_by(bucket)).all())
    buckets = [(label, int(counts.get(i, 0))) for i, (label, _limit) in enumerate(WAIT_BUCKETS)]

    def grouped(column) -> list[tuple[str, int]]:  # noqa: ANN001
        rows = session.execute(select(column, func.count()).where(*scope).group_by(column))
        return sorted(((str(k or "—"), int(n)) for k, n in rows), key=lambda r: (-r[1], r[0]))

    # Grouped by UTC hour in SQL; each UTC hour is one local hour (whole-hour offsets), read in Python.
    tz = ZoneInfo(zone)
    grid = [[0] * 24 for _ in range(7)]
    hour = _hour_bucket(session, Call.arrived_at)
    for h, n in session.execute(select(hour, func.count()).where(*scope).group_by(hour)):
        local = datetime.fromtimestamp(int(h) * 3600, UTC).astimezone(tz)
        grid[local.weekday()][local.hour] += int(n)

    company_name = session.get(Company, company_id).name if company_id is not None else None
    return HotlineStats(
        start=start, end=end, as_of=min(now, end), timezone=zone, company_name=company_name, calls=calls,
        queued=n_queued, answered=n_answered, answered_within=n_within, abandoned=n_abandoned,
        unanswered=unanswered, waiting=n_waiting, mean_wait_seconds=None if mean_wait is None else float(mean_wait),
        max_wait_seconds=None if max_wait is None else int(max_wait), wait_buckets=buckets,
        by_outcome=grouped(Call.outcome), by_channel=grouped(Call.channel), hour_of_week=grid,
    )


def quarter_hotline_stats(session: Session, quarter: Quarter | str, *, now: datetime,
                          company_id: int | None = None) -> HotlineStats:
    """The quarter read in the company's time zone (Budapest for all companies together)."""
    if isinstance(quarter, str):
        quarter = Quarter.parse(quarter)
    zone = DEFAULT_ZONE
    if company_id is not None:
        company = session.get(Company, company_id)
        if company is not None:
            zone, _contract = _company_zone(session, company, quarter.first_day)
    start, end = quarter.bounds(zone)
    return hotline_stats(session, start, end, now=now, zone=zone, company_id=company_id)


_SLA_REPORT_NAMES = {"Breach", "CategoryFigures", "CumulativeClock", "QuarterlyReport", "quarterly_report"}


def __getattr__(name: str) -> object:
    """The quarterly SLA report has a module of its own (which imports this one); its names stay
    importable from here."""
    if name in _SLA_REPORT_NAMES:
        from . import sla_report

        return getattr(sla_report, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
