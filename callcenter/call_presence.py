"""Is the caller still there? Ghost callers after a crash, and the queue's no-answer alert.

A call row stays open until something says the call ended. When the process that would have said it
died (kill -9 of `callcenter agi` or `serve`), or Twilio's status callback was missed (our web process
was down), the row would stay open forever, and a queued caller who left long ago would still page
the on-call engineer when the queue's threshold passed. So:

- every FastAGI process beats in `service_processes` (`Heartbeat`), and the calls it serves name it
  (`Call.owner`); it also closes its own calls whose session ended without their end being written;
- a Twilio call is seen at every webhook (`Call.last_seen_at`); one nothing was heard of for a while
  is looked up in Twilio's REST API, by the worker through the outbox (no webhook does network I/O);
- `sweep_lost_calls` (every few seconds in every worker; safe with many) closes calls whose process
  stopped beating, or that Twilio says ended, with outcome `lost` (a call that already had an outcome
  keeps it), and `close_lost_call` closes one such call (for AMI Hangup events);
- the queue's no-answer timer raises HotlineUnanswered only for a caller who is still there, and an
  alert already raised for a caller who turns out to be gone is resolved with that reason (paging
  listens to CallLost).

How long it takes: CALLCENTER_CALL_LOST_SECONDS (30 s) after the process's last heartbeat or the last
word from Twilio, plus one sweep (5 s); a queued Twilio caller polls every 20 s, so those are asked
about after 45 s.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, delete, exists, false, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from . import events, outbox, timers
from .calls import FINAL_STATUSES, QUEUE_WATCH, lock_call, raise_unanswered, set_outcome
from .calls import end_call as _end_call
from .db import deadline, session_scope
from .models import Call, CallChannel, CallOutcome, OutboxMessage, ServiceProcess, Timer
from .scheduler import periodic

log = logging.getLogger(__name__)

DEFAULT_LOST_SECONDS = 30.0
# A queued Twilio caller's wait URL is requested every hold slice (20 s in the flow): two slices and
# some slack without a request before the caller counts as quiet.
QUEUE_POLL_QUIET = timedelta(seconds=45)
# Calls nothing can vouch for (classic AGI, Twilio without REST credentials) are closed after this.
LONGEST_CALL = timedelta(hours=4)  # Twilio's own default time limit of a call
SWEEP_SECONDS = 5
SWEEP_BATCH = 200
# Rows of processes long gone are deleted by the sweep (their calls were closed a day ago).
PROCESS_KEEP = timedelta(days=1)
CHECK_SOURCE = "call_status"
CHECK_CHANNEL = "callstatus"  # outbox channel: Twilio's REST API, GET Calls/{sid}


def lost_after(session: Session) -> timedelta:
    settings = session.info.get("settings")
    return timedelta(seconds=getattr(settings, "call_lost_seconds", None) or DEFAULT_LOST_SECONDS)


def beat_interval(lost_seconds: float) -> float:
    """How often a process beats: six beats fit in the time after which it counts as dead."""
    return max(0.2, lost_seconds / 6)


def _twilio_enabled(session: Session) -> bool:
    settings = session.info.get("settings")
    return bool(settings is not None and settings.twilio_enabled)


def _utcnow() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------- service processes


def new_process_id(kind: str = "agi") -> str:
    return f"{kind}:{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"[:100]


def beat(session: Session, process_id: str, now: datetime, kind: str = "agi") -> None:
    """The process is alive at `now` (registers it the first time)."""
    updated = session.execute(update(ServiceProcess).where(ServiceProcess.id == process_id)
                              .values(beat_at=now, stopped_at=None)).rowcount
    if updated:
        return
    try:
        with session.begin_nested():
            session.add(ServiceProcess(id=process_id, kind=kind, started_at=now, beat_at=now))
    except IntegrityError:  # registered a moment ago by our own previous attempt
        session.execute(update(ServiceProcess).where(ServiceProcess.id == process_id).values(beat_at=now))


def process_stopped(session: Session, process_id: str, now: datetime) -> None:
    """A clean stop: its calls that are still open are lost at the next sweep, without waiting."""
    session.execute(update(ServiceProcess).where(ServiceProcess.id == process_id).values(stopped_at=now))


def _alive(now: datetime, limit: timedelta):  # noqa: ANN202
    """SQL: the owner of a call is a process that beat within `limit` and has not stopped."""
    return exists().where(ServiceProcess.id == Call.owner, ServiceProcess.stopped_at.is_(None),
                          ServiceProcess.beat_at >= now - limit)


def owner_alive(session: Session, call: Call, now: datetime) -> bool | None:
    """True/False for a call served by a beating process; None when no process vouches for it."""
    if call.owner is None:
        return None
    process = session.get(ServiceProcess, call.owner)
    return (process is not None and process.stopped_at is None
            and process.beat_at >= now - lost_after(session))


class Heartbeat:
    """Beats for this process every few seconds on a thread of its own, and closes the process's own calls
    whose session is over (`live()` names the sessions it still holds) but whose end was not written
    (the database was unreachable at the time)."""

    def __init__(self, factory: sessionmaker[Session], *, kind: str = "agi",
                 lost_seconds: float = DEFAULT_LOST_SECONDS, live: Callable[[], set[str]] | None = None,
                 clock: Callable[[], datetime] = _utcnow) -> None:
        self.factory = factory
        self.kind = kind
        self.id = new_process_id(kind)
        self.interval = beat_interval(lost_seconds)
        self.live = live
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def started(self) -> bool:
        """Calls name this process as their owner only while it beats (see `start`)."""
        return self._thread is not None

    def beat_once(self) -> None:
        with deadline(self.interval), session_scope(self.factory) as session:
            beat(session, self.id, self.clock(), self.kind)

    def close_orphans(self) -> int:
        if self.live is None:
            return 0
        with deadline(self.interval * 2), session_scope(self.factory) as session:
            return close_orphans(session, self.id, self.live, self.clock())

    def start(self) -> Heartbeat:
        try:
            self.beat_once()
        except Exception:  # the database may be down while we start: the thread keeps trying
            log.warning("process %s: first heartbeat failed", self.id, exc_info=True)
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        beats = 0
        while not self._stop.wait(self.interval):
            beats += 1
            try:
                self.beat_once()
                if beats % 3 == 0:
                    self.close_orphans()
            except Exception as exc:
                log.warning("process %s: heartbeat failed: %s", self.id, exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            with deadline(2), session_scope(self.factory) as session:
                process_stopped(session, self.id, self.clock())
        except Exception:
            log.warning("process %s: could not record its stop", self.id, exc_info=True)


def close_orphans(session: Session, process_id: str, live: Callable[[], set[str]], now: datetime) -> int:
    """Close this process's open calls that no session of it holds any more (older than one beat)."""
    grace = timedelta(seconds=beat_interval(lost_after(session).total_seconds()))
    ids = list(session.scalars(select(Call.id).where(Call.owner == process_id, Call.ended_at.is_(None),
                                                     Call.arrived_at < now - grace)))
    if not ids:
        return 0
    held = live()  # after the query: a session that starts now is not among the rows read
    closed = 0
    for call_id in ids:
        call = lock_call(session, call_id=call_id, skip_locked=True)
        if call is not None and call.ended_at is None and call.provider_call_id not in held:
            closed += close_lost_call(session, call, now, "its AGI session ended without recording the end")
    return closed


# ---------------------------------------------------------------------------- closing a lost call


def close_lost_call(session: Session, call: Call | str, now: datetime, reason: str) -> bool:
    """Close a call whose caller is gone (its AGI process died, Twilio says it ended, Asterisk reported the
    channel's hangup): outcome `lost` unless the call already came to one, out of the queue, its queue
    timer cancelled, and paging told (CallLost) so that an alert raised for the caller is resolved.
    Takes the call's lock; False when the call is unknown or already ended. Safe to repeat."""
    if isinstance(call, str):
        found = lock_call(session, call)
    else:
        found = lock_call(session, call_id=call.id) if call.id is not None else None
    if found is None or found.ended_at is not None:
        return False
    set_outcome(found, CallOutcome.LOST)
    _end_call(session, found, now)
    events.publish(session, events.CallLost(call_id=found.id, reason=reason, now=now))
    log.warning("hotline call %s closed as lost: %s", found.provider_call_id, reason)
    return True


# ---------------------------------------------------------------------------- Twilio: ask the REST API


def quiet_after(session: Session, call: Call) -> timedelta:
    limit = lost_after(session)
    return max(limit, QUEUE_POLL_QUIET) if call.waiting_in_queue else limit


def ask_provider(session: Session, call: Call, now: datetime) -> bool:
    """Queue a look-up of the call in Twilio's REST API (once per quiet period); the answer comes back
    through `_provider_answered`. False when there is nobody to ask."""
    if call.channel != CallChannel.TWILIO or not _twilio_enabled(session):
        return False
    if call.status_check_at is not None and call.status_check_at > now - quiet_after(session, call):
        return True  # asked a moment ago
    call.status_check_at = now
    outbox.enqueue(session, key=f"call-status:{call.provider_call_id}:{int(now.timestamp())}",
                   channel=CHECK_CHANNEL, destination=call.provider_call_id, payload={}, now=now,
                   source_kind=CHECK_SOURCE, source_id=call.id, max_attempts=3)
    return True


def _provider_answered(session: Session, msg: OutboxMessage, now: datetime) -> None:
    call = lock_call(session, call_id=msg.source_id) if msg.source_id else None
    if call is None or call.ended_at is not None:
        return
    status = (msg.provider_status or "").lower()
    if status in FINAL_STATUSES:
        call.provider_status = status
        close_lost_call(session, call, now, f"Twilio says the call is {status}")
    elif status:
        call.last_seen_at = now  # still running at Twilio


def _provider_failed(session: Session, msg: OutboxMessage, now: datetime) -> None:
    if msg.error_code == "20404":  # Twilio has no such call: nobody is on it
        call = lock_call(session, call_id=msg.source_id) if msg.source_id else None
        if call is not None:
            close_lost_call(session, call, now, "Twilio does not know the call")


outbox.on_sent(CHECK_SOURCE, _provider_answered)
outbox.on_status(CHECK_SOURCE, _provider_failed)


# ---------------------------------------------------------------------------- the sweep


@dataclass
class Sweep:
    closed: list[int] = field(default_factory=list)
    asked: list[int] = field(default_factory=list)


def sweep_lost_calls(session: Session, now: datetime, *, trust_heartbeats: bool = True,
                     limit: int = SWEEP_BATCH) -> Sweep:
    """Close open calls whose caller is provably gone; ask Twilio about quiet Twilio calls.

    Any number of workers may run it at once: each call is locked (skipping calls another transaction
    holds, such as a turn in progress) and looked at again inside the lock. `trust_heartbeats=False`
    right after this process could not reach the database for a while: heartbeats missed meanwhile
    prove nothing, so no call is closed for a silent process this time.
    """
    done = Sweep()
    lost = lost_after(session)
    owned_gone = and_(Call.owner.is_not(None), ~_alive(now, lost)) if trust_heartbeats else false()
    quiet = and_(Call.channel == CallChannel.TWILIO,
                 or_(Call.last_seen_at.is_(None), Call.last_seen_at < now - lost),
                 or_(Call.status_check_at.is_(None), Call.status_check_at < now - lost))
    candidates = list(session.scalars(
        select(Call.id).where(Call.ended_at.is_(None), or_(owned_gone, quiet, Call.arrived_at < now - LONGEST_CALL))
        .order_by(Call.arrived_at).limit(limit)))
    for call_id in candidates:
        call = lock_call(session, call_id=call_id, skip_locked=True)
        if call is None or call.ended_at is not None:
            continue
        alive = owner_alive(session, call, now)
        if alive is False and trust_heartbeats:
            if close_lost_call(session, call, now, f"its AGI process {call.owner} stopped"):
                done.closed.append(call.id)
        elif call.channel == CallChannel.TWILIO and _twilio_enabled(session):
            seen = call.last_seen_at or call.arrived_at
            if seen < now - quiet_after(session, call) and ask_provider(session, call, now):
                done.asked.append(call.id)
        elif alive is None and call.arrived_at < now - LONGEST_CALL:
            if close_lost_call(session, call, now, "nothing was heard of it for hours"):
                done.closed.append(call.id)
    gone = ServiceProcess.beat_at < now - PROCESS_KEEP
    if session.scalar(select(ServiceProcess.id).where(gone).limit(1)) is not None:  # a read: no write lock
        session.execute(delete(ServiceProcess).where(gone))
    return done


@dataclass
class _SweepClock:
    """When this process last swept successfully, and from when it trusts heartbeats again."""

    last_ok: float | None = None
    trust_from: float = 0.0


_sweeper = _SweepClock()


@periodic("calls.lost", seconds=SWEEP_SECONDS)
def lost_calls_job(factory: sessionmaker[Session], settings: object, now: datetime) -> None:
    lost_seconds = getattr(settings, "call_lost_seconds", None) or DEFAULT_LOST_SECONDS
    started = time.monotonic()
    if _sweeper.last_ok is None or started - _sweeper.last_ok > max(3 * SWEEP_SECONDS, lost_seconds / 2):
        # This process could not sweep for a while (it just started, or the database was unreachable):
        # the AGI processes could not beat meanwhile either. Give them two beats to catch up.
        _sweeper.trust_from = started + 2 * beat_interval(lost_seconds)
    with deadline(max(2.0, lost_seconds / 3)), session_scope(factory) as session:
        sweep_lost_calls(session, now, trust_heartbeats=started >= _sweeper.trust_from)
    _sweeper.last_ok = started


# ---------------------------------------------------------------------------- the queue's no-answer timer


def caller_still_there(session: Session, call: Call, now: datetime, due_at: datetime) -> bool | timedelta:
    """For the no-answer alert: True when the caller is there, False when gone (the call is then closed as
    lost), or how long to wait before looking again when it cannot be told yet."""
    if call.channel == CallChannel.ASTERISK and call.owner is not None:
        process = session.get(ServiceProcess, call.owner)
        limit = lost_after(session)
        if process is None or process.stopped_at is not None or process.beat_at < now - limit:
            close_lost_call(session, call, now, f"its AGI process {call.owner} stopped")
            return False
        if process.beat_at < due_at:
            # The process has not beaten since the threshold passed: it may have died since its last beat.
            # Look again once it should have beaten (it is then alive), or it counts as dead.
            interval = timedelta(seconds=beat_interval(limit.total_seconds()))
            return max(timedelta(seconds=1), process.beat_at + 2 * interval - now)
        return True
    if call.channel == CallChannel.TWILIO and _twilio_enabled(session):
        seen = call.last_seen_at or call.arrived_at
        if seen >= now - quiet_after(session, call):
            return True
        # A caller still waiting polls the wait URL, and that poll raises the alert itself at the threshold.
        ask_provider(session, call, now)
        return False
    return True


def _queue_watch(session: Session, timer: Timer, now: datetime) -> None:
    call = lock_call(session, call_id=(timer.payload or {}).get("call_id"))
    if call is None or not call.waiting_in_queue or call.answered_at is not None:
        return
    payload = dict(timer.payload or {})
    threshold_at = datetime.fromisoformat(payload["threshold_at"]) if "threshold_at" in payload else timer.due_at
    present = caller_still_there(session, call, now, threshold_at)
    if isinstance(present, timedelta):
        # Look again later: the claimed timer goes back to waiting (same transaction as the claim).
        payload.setdefault("threshold_at", threshold_at.isoformat())
        timer.payload = payload
        timer.fired_at, timer.fired_by, timer.due_at = None, None, now + present
        return
    if present:
        raise_unanswered(session, call, now)


timers.register(QUEUE_WATCH, _queue_watch)

