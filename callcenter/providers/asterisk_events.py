"""Asterisk's AMI events complete the hotline's call rows (CALLCENTER_AMI_URL; pystrix, like the queue sync).

One listener per worker process keeps an AMI connection with events on and hands each event that
concerns a hotline call to `callcenter.pbx_events`, in its own transaction:

- AgentConnect (plain `Queue()` mode): answered now, by the agent whose queue interface it is;
- AgentComplete: Asterisk's talk time, the agent to wrap-up;
- BridgeEnter of a caller still queued: answered (a bridge Hotline did not arrange);
- Hangup: a call whose row is still open `call_lost_seconds` later is closed as lost.

On every (re)connection and every RECONCILE_SECONDS it also lists Asterisk's channels and closes the
open Asterisk calls that have none (hang-ups missed while nobody listened). Several workers listening
at once is fine: every handler is idempotent. Without the setting nothing here runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from .. import pbx_events, scheduler
from ..config import Settings
from ..db import session_scope
from ..models import StaffUser
from .asterisk_ami import connect, member_interface, parse_ami_url

log = logging.getLogger(__name__)

RECONCILE_SECONDS = 60
RECONNECT_SECONDS = 3
EVENTS = ("AgentConnect", "AgentComplete", "BridgeEnter", "Hangup")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


class AmiListener:
    """A thread holding one AMI connection with events; reconnects while it runs."""

    def __init__(self, factory: sessionmaker[Session], settings: Settings, *,
                 clock: Callable[[], datetime] = _utcnow, grace_seconds: float | None = None) -> None:
        self.factory = factory
        self.settings = settings
        self.clock = clock
        self.grace_seconds = settings.call_lost_seconds if grace_seconds is None else grace_seconds
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the connection

    def start(self) -> AmiListener:
        self._thread = threading.Thread(target=self._run, name="ami-events", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        address = parse_ami_url(self.settings.ami_url)
        while not self._stop.is_set():
            manager = None
            try:
                manager = connect(address, events=True)
                for name in EVENTS:
                    manager.register_callback(name, self._on_event)
                self.connected.set()
                last_reconcile = 0.0
                while not self._stop.is_set() and manager.is_connected():
                    if time.monotonic() - last_reconcile >= RECONCILE_SECONDS:
                        last_reconcile = time.monotonic()
                        try:
                            self.reconcile(manager)
                        except Exception as exc:  # the events still count: keep listening
                            log.warning("Asterisk channels not reconciled: %s", exc)
                    self._stop.wait(0.5)
            except Exception as exc:  # the PBX may be restarting: try again shortly
                log.warning("Asterisk events: %s; reconnecting in %s s", exc, RECONNECT_SECONDS)
            finally:
                self.connected.clear()
                if manager is not None:
                    manager.close()
            self._stop.wait(RECONNECT_SECONDS)

    def reconcile(self, manager) -> int:  # noqa: ANN001 - pystrix Manager
        """Close the open Asterisk calls whose channel Asterisk no longer has."""
        from pystrix.ami import core, core_events

        request = core.CoreShowChannels()
        request.synchronous = True
        reply = manager.send_action(request)
        if reply is None or not reply.success:
            raise RuntimeError(f"CoreShowChannels failed: {reply.response if reply else 'no reply'}")
        live = {str(e.get("Uniqueid")) for e in (reply.events or {}).get(core_events.CoreShowChannel) or []}
        with session_scope(self.factory) as session:
            return pbx_events.close_calls_without_channel(session, live, self.clock(),
                                                          timedelta(seconds=self.grace_seconds))

    # -- the events (pystrix's dispatcher thread)

    def _on_event(self, event, manager) -> None:  # noqa: ANN001
        name, uniqueid = event.name, str(event.get("Uniqueid") or "")
        if not uniqueid:
            return
        try:
            with session_scope(self.factory) as session:
                self.handle(session, name, uniqueid, event)
        except Exception:
            log.exception("Asterisk event %s for %s not applied", name, uniqueid)

    def handle(self, session: Session, name: str, uniqueid: str, event) -> None:  # noqa: ANN001
        now = self.clock()
        if name == "AgentConnect":
            staff = self._staff_of(session, str(event.get("Interface") or ""))
            pbx_events.queue_member_connected(session, uniqueid, staff, now)
        elif name == "AgentComplete":
            pbx_events.queue_member_completed(session, uniqueid, _int(event.get("TalkTime")), now,
                                              self.settings.agent_wrap_up_seconds)
        elif name == "BridgeEnter":
            pbx_events.channel_bridged(session, uniqueid, now)
        elif name == "Hangup":
            pbx_events.channel_hung_up(session, uniqueid, now, self.grace_seconds)

    def _staff_of(self, session: Session, interface: str) -> StaffUser | None:
        """The agent whose queue interface (CALLCENTER_ASTERISK_QUEUE_MEMBER) this is."""
        for staff in session.scalars(select(StaffUser).where(StaffUser.active.is_(True))):
            if member_interface(self.settings.asterisk_queue_member, staff) == interface:
                return staff
        return None


_listener: AmiListener | None = None
_listener_lock = threading.Lock()


@scheduler.periodic("asterisk.events", 5)
def events_job(factory: sessionmaker[Session], settings: Settings, now: datetime) -> None:
    """Keep this process's event listener running (started on the first tick, restarted if it died)."""
    global _listener
    if not settings.ami_url:
        return
    with _listener_lock:
        if _listener is None or not _listener.alive:
            _listener = AmiListener(factory, settings).start()
