"""Figures for /metrics read from the database when scraped: the same on every machine, exact under
retried webhooks and any number of processes, and nothing to keep in memory between scrapes.

Each scrape runs a handful of aggregate queries in one read-only transaction; the result is kept for
a few seconds so that several scrapers (or a scraper and a person with curl) cost one round.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, case, func, select
from sqlalchemy.orm import Session

from .models import (
    OPEN_STATUSES,
    Call,
    Contract,
    DomainEvent,
    DomainEventState,
    InboundMail,
    OutboxMessage,
    OutboxState,
    Ticket,
    Timer,
)

log = logging.getLogger(__name__)

CACHE_SECONDS = 5.0
# A call with no end after this long is a ghost (its end was never reported), not a call in progress.
CALL_HORIZON = timedelta(hours=6)
QUEUE_WAIT_BUCKETS = (10, 30, 60, 120, 300, 600, 900, 1800)
DEFAULT_THRESHOLD_SECONDS = 600  # as the hotline statistics count callers without a contract


def _count(cond) -> object:  # noqa: ANN001
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def read_figures(session: Session, now: datetime) -> dict:
    """Every database figure at `now`, as plain values (the collector turns them into metric families)."""
    recent = Call.arrived_at >= now - CALL_HORIZON
    in_progress = {
        channel: int(n) for channel, n in session.execute(
            select(Call.channel, func.count()).where(recent, Call.ended_at.is_(None)).group_by(Call.channel))
    }
    waiting = session.scalar(select(func.count()).where(
        recent, Call.ended_at.is_(None), Call.queue_entered_at.is_not(None), Call.queue_left_at.is_(None))) or 0

    left_queue = and_(Call.queue_entered_at.is_not(None), Call.wait_seconds.is_not(None))
    threshold = func.coalesce(Contract.no_answer_threshold_seconds, DEFAULT_THRESHOLD_SECONDS)
    answered = Call.answered_at.is_not(None)
    row = session.execute(
        select(func.count(), func.coalesce(func.sum(Call.wait_seconds), 0),
               *[_count(Call.wait_seconds <= le) for le in QUEUE_WAIT_BUCKETS],
               _count(and_(answered, Call.wait_seconds <= threshold)),
               _count(and_(answered, Call.wait_seconds > threshold)))
        .select_from(Call).outerjoin(Contract, Contract.id == Call.contract_id).where(left_queue)
    ).one()
    waits = {"count": int(row[0]), "sum": float(row[1]),
             "buckets": [int(v) for v in row[2:2 + len(QUEUE_WAIT_BUCKETS)]]}
    answered_within, answered_late = int(row[-2]), int(row[-1])

    due = and_(OutboxMessage.state == OutboxState.PENDING, OutboxMessage.next_attempt_at <= now)
    backlog: dict[str, int] = {}
    oldest: datetime | None = None
    for channel, n, first in session.execute(
        select(OutboxMessage.channel, func.count(), func.min(OutboxMessage.next_attempt_at))
        .where(due).group_by(OutboxMessage.channel)
    ):
        backlog[channel] = int(n)
        oldest = first if oldest is None or (first is not None and first < oldest) else oldest
    sending = session.scalar(select(func.count()).where(OutboxMessage.state == OutboxState.SENDING)) or 0

    oldest_timer = session.scalar(select(func.min(Timer.due_at)).where(
        Timer.fired_at.is_(None), Timer.cancelled_at.is_(None), Timer.due_at <= now))

    breached = session.scalar(select(func.count()).where(
        Ticket.responded_at.is_(None), Ticket.response_due_at <= now,
        Ticket.status.in_([s.value for s in OPEN_STATUSES]))) or 0

    mails = {str(status): int(n) for status, n in session.execute(
        select(InboundMail.status, func.count()).group_by(InboundMail.status))}

    # After-commit handlers not done: pending (on their way), failed (retried), dead (attempts spent).
    domain_events = {state.value: 0 for state in DomainEventState if state != DomainEventState.DONE}
    for state, n in session.execute(select(DomainEvent.state, func.count()).where(
            DomainEvent.state != DomainEventState.DONE).group_by(DomainEvent.state)):
        domain_events[str(state)] = int(n)

    def age(t: datetime | None) -> float:
        return max(0.0, (now - t).total_seconds()) if t is not None else 0.0

    return {
        "calls_in_progress": in_progress, "calls_waiting": int(waiting), "queue_waits": waits,
        "answered_within": answered_within, "answered_late": answered_late, "outbox_backlog": backlog,
        "outbox_oldest_age": age(oldest), "outbox_sending": int(sending), "timer_lag": age(oldest_timer),
        "sla_breached": int(breached), "mails": mails, "domain_events": domain_events,
    }


class DatabaseCollector:
    """A prometheus-client collector over `read_figures`, cached for CACHE_SECONDS."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, dict] | None = None

    def figures(self) -> dict | None:
        with self._lock:
            if self._cached is not None and time.monotonic() - self._cached[0] < CACHE_SECONDS:
                return self._cached[1]
            try:
                with Session(self.engine) as session:
                    figures = read_figures(session, self.clock())
            except Exception:  # a scrape reports the database as down; it never raises into the view
                log.exception("metrics: reading the database figures failed")
                return None
            self._cached = (time.monotonic(), figures)
            return figures

    def collect(self) -> Iterator[object]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        figures = self.figures()
        up = GaugeMetricFamily("hotline_database_up", "1 when the database answered this scrape's queries")
        up.add_metric([], 0 if figures is None else 1)
        yield up
        if figures is None:
            return
        calls = GaugeMetricFamily("hotline_calls_in_progress", "Hotline calls not ended yet, by channel",
                                  labels=["channel"])
        for channel, n in sorted(figures["calls_in_progress"].items()):
            calls.add_metric([channel], n)
        yield calls
        yield GaugeMetricFamily("hotline_calls_waiting", "Callers in the queue for an agent now",
                                value=figures["calls_waiting"])
        waits = figures["queue_waits"]
        buckets = [(str(float(le)), n) for le, n in zip(QUEUE_WAIT_BUCKETS, waits["buckets"], strict=True)]
        buckets.append(("+Inf", waits["count"]))
        yield HistogramMetricFamily("hotline_queue_wait_seconds",
                                    "How long callers waited in the queue (every call that left it)",
                                    buckets=buckets, sum_value=waits["sum"])
        answered = CounterMetricFamily("hotline_calls_answered",
                                       "Queued calls an agent answered, within the contract's no-answer threshold "
                                       "or later", labels=["within_threshold"])
        answered.add_metric(["true"], figures["answered_within"])
        answered.add_metric(["false"], figures["answered_late"])
        yield answered
        backlog = GaugeMetricFamily("hotline_outbox_backlog", "Outbox messages due and not sent yet, by channel",
                                    labels=["channel"])
        for channel, n in sorted(figures["outbox_backlog"].items()):
            backlog.add_metric([channel], n)
        yield backlog
        yield GaugeMetricFamily("hotline_outbox_oldest_due_seconds",
                                "Age of the oldest due outbox message not sent yet (0: none)",
                                value=figures["outbox_oldest_age"])
        yield GaugeMetricFamily("hotline_outbox_sending", "Outbox messages a worker is sending now",
                                value=figures["outbox_sending"])
        yield GaugeMetricFamily("hotline_timer_lag_seconds",
                                "Now minus the oldest due timer not fired yet (0: the workers keep up)",
                                value=figures["timer_lag"])
        yield GaugeMetricFamily("hotline_sla_breached_tickets",
                                "Open tickets past their response deadline without a response",
                                value=figures["sla_breached"])
        events = GaugeMetricFamily("hotline_domain_events", "After-commit event handlers not done, by state "
                                   "(failed: retried by the workers; dead: attempts spent, see last_error)",
                                   labels=["state"])
        for state, n in sorted(figures["domain_events"].items()):
            events.add_metric([state], n)
        yield events
        mails = CounterMetricFamily("hotline_mails", "Inbound mails recorded, by outcome (quarantined: kept "
                                    "unparsed for staff)", labels=["status"])
        for status, n in sorted(figures["mails"].items()):
            mails.add_metric([status], n)
        yield mails
