"""The ticker: APScheduler only says "now"; the work and its state live in the database.

A due loop (a thread of its own) fires timers and sends messages as they fall due; periodic jobs
reconcile the outbox, beat the worker's heartbeat and run what services register (SLA warnings,
IMAP polling, recording retention). Safe to run in any number of processes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from . import outbox, timers
from .config import Settings
from .db import make_session_factory, session_scope
from .providers import Provider, providers_for

log = logging.getLogger(__name__)


@dataclass
class PeriodicJob:
    name: str
    seconds: float
    run: Callable[[sessionmaker[Session], Settings, datetime], None]


PERIODIC: list[PeriodicJob] = []
TIMER_BATCH = 50
OUTBOX_BATCH = 50
# The due loop sleeps until the earliest timer or outbox row it knows of falls due, and at most this
# long, so a row another process adds (a webhook's first page, a timer due at once) waits no longer.
# An idle look is two index lookups (bench/paging_bench.py: about a millisecond), so this is cheap.
DUE_POLL_SECONDS = 0.5
# When due rows are all held by other workers, look again after this instead of spinning.
DUE_RETRY_SECONDS = 0.05
# The periodic outbox pass: rows of dead claimants are reconciled here, and it backs up the due loop.
OUTBOX_INTERVAL_SECONDS = 2


def periodic(name: str, seconds: float) -> Callable:
    """Register a job to run every `seconds` in every worker (it must be safe to run concurrently)."""
    def decorator(fn: Callable) -> Callable:
        PERIODIC[:] = [j for j in PERIODIC if j.name != name]
        PERIODIC.append(PeriodicJob(name, seconds, fn))
        return fn

    return decorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class Ticker:
    def __init__(self, settings: Settings, engine: Engine, *, providers: dict[str, Provider] | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        from .wiring import load_services

        load_services()
        self.settings = settings
        self.factory = make_session_factory(engine, settings)
        self.providers = providers if providers is not None else providers_for(settings)
        self.clock = clock
        # Several tickers may run in one process (tests, `serve`): each is its own claimant.
        self.claimant = outbox.Claimant.new("ticker")
        self.worker_id = self.claimant.worker_id
        self._scheduler: BackgroundScheduler | BlockingScheduler | None = None

    def fire_timers(self) -> int:
        # Keep going while passes fire something, so a burst of due timers (many pages escalating at
        # once) is not spread over many ticks. A pass may stop short of its limit (its time budget, or
        # timers whose alert another worker holds): only a pass that fires nothing means done.
        total = 0
        while True:
            fired = timers.fire_due(self.factory, self.clock(), self.worker_id, limit=TIMER_BATCH)
            total += fired
            if not fired:
                return total

    def drain_outbox(self) -> int:
        total = 0
        while True:
            sent = outbox.drain(self.factory, self.providers, self.clock, limit=OUTBOX_BATCH, claimant=self.claimant)
            total += sent
            if sent < OUTBOX_BATCH:
                return total

    def fire_timers_and_send(self) -> int:
        """Fire due timers, then send what they queued in the same cycle instead of at the next outbox run."""
        fired = self.fire_timers()
        if fired:
            self.drain_outbox()
        return fired

    def run_due(self) -> int:
        """One pass of the due loop: a batch of due timers, then a batch of due messages, so the pages a
        burst of escalations queues go out while the rest of the burst is still firing."""
        fired = timers.fire_due(self.factory, self.clock(), self.worker_id, limit=TIMER_BATCH)
        sent = outbox.drain(self.factory, self.providers, self.clock, limit=OUTBOX_BATCH, claimant=self.claimant,
                            reconcile=False)
        return fired + sent

    def seconds_until_due(self) -> float:
        with session_scope(self.factory) as session:
            dues = [d for d in (timers.next_due_at(session), outbox.next_due_at(session)) if d is not None]
        if not dues:
            return DUE_POLL_SECONDS
        return (min(dues) - self.clock()).total_seconds()

    def due_loop(self, stop: threading.Event) -> None:
        """Fire timers and send messages as they fall due, in a thread of its own: a timer reaches the
        provider within milliseconds of its due time instead of waiting for the next tick."""
        while not stop.is_set():
            try:
                if self.run_due():
                    continue
                wait = self.seconds_until_due()
                # Due but nothing done: other workers hold those rows (or a provider refused): not a spin.
                wait = DUE_RETRY_SECONDS if wait <= 0 else min(wait, DUE_POLL_SECONDS)
            except Exception:  # a failing pass must not stop the loop
                log.exception("due loop pass failed")
                wait = DUE_POLL_SECONDS
            stop.wait(wait)

    def _start_due_loop(self) -> threading.Event:
        stop = threading.Event()
        threading.Thread(target=self.due_loop, args=(stop,), name="due-loop", daemon=True).start()
        return stop

    def heartbeat(self) -> None:
        """Alive: rows this worker holds in 'sending' are not reconciled while it beats."""
        outbox.heartbeat(self.factory, self.claimant, self.clock())

    def run_periodic(self, job: PeriodicJob) -> None:
        job.run(self.factory, self.settings, self.clock())

    def tick(self) -> None:
        """Everything once, in order (the tests' deterministic engine cycle)."""
        self.fire_timers()
        for job in PERIODIC:
            self.run_periodic(job)
        self.fire_timers()
        while self.drain_outbox():
            pass

    def _guarded(self, fn: Callable, *args: object) -> Callable[[], None]:
        def run() -> None:
            try:
                fn(*args)
            except Exception:  # a failing tick must not stop the scheduler
                log.exception("scheduler job failed")

        return run

    def _configure(self, scheduler: BackgroundScheduler | BlockingScheduler) -> None:
        scheduler.add_job(self._guarded(self.drain_outbox), "interval", seconds=OUTBOX_INTERVAL_SECONDS,
                          id="outbox")
        scheduler.add_job(self._guarded(self.heartbeat), "interval",
                          seconds=outbox.HEARTBEAT_INTERVAL.total_seconds(), id="heartbeat")
        for job in PERIODIC:
            scheduler.add_job(self._guarded(self.run_periodic, job), "interval", seconds=job.seconds, id=job.name)

    def start_background(self) -> Callable[[], None]:
        scheduler = BackgroundScheduler(timezone=UTC, job_defaults=JOB_DEFAULTS)
        self._configure(scheduler)
        scheduler.start()
        self._scheduler = scheduler
        due = self._start_due_loop()
        log.info("scheduler running in the background (%s)", self.worker_id)

        def stop() -> None:
            due.set()
            scheduler.shutdown(wait=False)

        return stop

    def run_forever(self) -> None:
        scheduler = BlockingScheduler(timezone=UTC, job_defaults=JOB_DEFAULTS)
        self._configure(scheduler)
        self._scheduler = scheduler
        due = self._start_due_loop()
        log.info("worker %s ticking", self.worker_id)
        try:
            scheduler.start()
        finally:
            due.set()


# Tick jobs may not overlap or pile up after a pause; a late tick still runs.
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
