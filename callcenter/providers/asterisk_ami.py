"""AMI (pystrix): Asterisk's hotline queue follows the agents' availability (AMI, pystrix), for plain Queue() mode.

With CALLCENTER_AMI_URL set (`ami://user:secret@host:5038`), every worker reconciles the members of
`Queue(CALLCENTER_HOTLINE_QUEUE)` with the desk every few seconds: an available agent is a member, an
agent on a call or in wrap-up a paused member, an agent who is away or offline no member
(`QueueAdd`/`QueuePause`/`QueueRemove`). Only dynamic members are removed: static ones in
queues.conf are the administrator's. Reconciling (instead of sending each change as it happens)
survives restarts of either side and needs no network I/O in the web process that changes a state.
Without the setting nothing here runs. `OriginateProvider` places the console's *Call back* on
Asterisk from the outbox (`Originate` of the agent's phone into `[hotline-callback]`).
"""

from __future__ import annotations

import logging
import urllib.parse
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import scheduler
from ..config import Settings
from ..models import Agent, AgentState, StaffUser
from .base import PermanentError, SendResult, TemporaryError

log = logging.getLogger(__name__)

SYNC_SECONDS = 5
PAUSED_STATES = {AgentState.ON_CALL, AgentState.WRAP_UP}
MEMBER_STATES = {AgentState.AVAILABLE, *PAUSED_STATES}


@dataclass(frozen=True)
class AmiAddress:
    host: str
    port: int
    username: str
    secret: str


def parse_ami_url(url: str) -> AmiAddress:
    """`ami://user:secret@host:5038` -> its parts; ValueError saying what is wrong."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "ami" or not parts.hostname or not parts.username or parts.password is None:
        raise ValueError(f"CALLCENTER_AMI_URL must look like ami://user:secret@host:5038, not {url!r}")
    return AmiAddress(parts.hostname, parts.port or 5038, urllib.parse.unquote(parts.username),
                      urllib.parse.unquote(parts.password))


def member_interface(template: str, staff: StaffUser) -> str:
    return template.format(phone=staff.phone or "", username=staff.username)


def desired_members(session: Session, settings: Settings) -> dict[str, bool]:
    """Interface -> paused, for every agent who belongs in the queue now."""
    rows = session.execute(select(Agent, StaffUser).join(StaffUser, StaffUser.id == Agent.staff_id)
                           .where(Agent.state.in_([s.value for s in MEMBER_STATES]), StaffUser.active.is_(True),
                                  StaffUser.phone.is_not(None))).all()
    return {member_interface(settings.asterisk_queue_member, staff): agent.state in PAUSED_STATES
            for agent, staff in rows}


@dataclass
class SyncResult:
    added: list[str]
    paused: list[str]
    unpaused: list[str]
    removed: list[str]


def sync_queue(manager, queue: str, desired: dict[str, bool]) -> SyncResult:  # noqa: ANN001 - pystrix Manager
    """Make the queue's members what `desired` says (QueueStatus, then the differences)."""
    from pystrix.ami import core, core_events

    request = core.QueueStatus(queue)
    request.synchronous = True  # collect the QueueMember events into the reply
    status = manager.send_action(request)
    if status is None or not status.success:
        raise RuntimeError(f"QueueStatus {queue} failed: {status.response if status else 'no reply'}")
    events = status.events or {}
    current: dict[str, tuple[bool, bool]] = {}  # interface -> (paused, dynamic)
    for event in events.get(core_events.QueueMember) or []:
        # The headers are text here ("0"/"1"): pystrix does not process synchronously collected events.
        current[event["Location"]] = (str(event.get("Paused")) in ("1", "True"), event.get("Membership") == "dynamic")
    result = SyncResult([], [], [], [])
    for interface, (_, dynamic) in current.items():
        if dynamic and interface not in desired:
            _act(manager, core.QueueRemove(interface, queue))
            result.removed.append(interface)
    for interface, paused in desired.items():
        if interface not in current:
            _act(manager, core.QueueAdd(interface, queue, paused=paused))
            result.added.append(interface)
        elif current[interface][0] != paused:
            _act(manager, core.QueuePause(interface, paused, queue))
            (result.paused if paused else result.unpaused).append(interface)
    return result


def _act(manager, request) -> None:  # noqa: ANN001
    reply = manager.send_action(request)
    if reply is None or not reply.success:
        raise RuntimeError(f"AMI {request.get('Action')} {request.get('Interface')} failed: "
                           f"{reply.response if reply else 'no reply'}")


def connect(address: AmiAddress, timeout: float = 5, *, events: bool = False):  # noqa: ANN201 - pystrix Manager
    """A logged-in pystrix Manager; `events`: Asterisk sends this connection its events too."""
    from pystrix.ami import Manager, core

    manager = Manager(logger=log)
    manager.connect(address.host, address.port, timeout=timeout)
    login = manager.send_action(core.Login(address.username, address.secret, events=events))
    if login is None or not login.success:
        manager.close()
        raise RuntimeError(f"AMI login as {address.username} on {address.host}:{address.port} refused")
    if events:
        # pystrix's socket has a read timeout, and Python's socket file cannot be read again after one:
        # a connection idle for `timeout` seconds would die. Pings keep it busy and notice a dead PBX.
        manager.monitor_connection(interval=min(2.0, timeout / 2))
    return manager


def sync_now(session: Session, settings: Settings) -> SyncResult | None:
    """One reconciliation; None when no AMI is configured."""
    if not settings.ami_url:
        return None
    desired = desired_members(session, settings)
    manager = connect(parse_ami_url(settings.ami_url))
    try:
        result = sync_queue(manager, settings.hotline_queue, desired)
    finally:
        manager.close()
    changed = result.added + result.paused + result.unpaused + result.removed
    if changed:
        log.info("Asterisk queue %s: added %s, paused %s, unpaused %s, removed %s", settings.hotline_queue,
                 result.added, result.paused, result.unpaused, result.removed)
    return result


@scheduler.periodic("asterisk.queue_members", SYNC_SECONDS)
def queue_members_job(factory, settings: Settings, now: datetime) -> None:  # noqa: ANN001
    if not settings.ami_url:
        return
    from ..db import session_scope

    try:
        with session_scope(factory) as session:
            sync_now(session, settings)
    except Exception as exc:  # the PBX may be restarting: the next tick tries again
        log.warning("Asterisk queue members not synchronised: %s", exc)


class OriginateProvider:
    """Outbox channel `originate`: AMI Originate (async) of `destination` into the payload's
    context, with the payload's channel id, variables and caller id. Asterisk answers "queued" at once;
    the call's course is the dialplan's (its `failed` extension runs if nobody answers)."""

    name = "asterisk"

    def __init__(self, settings: Settings) -> None:
        self.address = parse_ami_url(settings.ami_url)

    def send(self, message) -> SendResult:  # noqa: ANN001 - an outbox snapshot
        from pystrix.ami import core

        payload = message.payload or {}
        timeout_ms = int(payload.get("timeout") or 30) * 1000
        request = core.Originate_Context(message.destination, payload["context"], payload.get("exten") or "s", 1,
                                         timeout=timeout_ms, callerid=payload.get("callerid"),
                                         variables=payload.get("variables") or {}, async_=True)
        if payload.get("channel_id"):
            request["ChannelId"] = payload["channel_id"]
        try:
            manager = connect(self.address)
        except Exception as exc:  # Asterisk restarting or unreachable: the outbox tries again
            raise TemporaryError(f"AMI not reachable: {exc}") from exc
        try:
            reply = manager.send_action(request)
        finally:
            manager.close()
        if reply is None:
            raise TemporaryError("AMI Originate: no reply")
        if not reply.success:
            raise PermanentError(f"AMI Originate refused: {reply.response.get('Message') or reply.response}")
        return SendResult(ref=payload.get("channel_id"), status="queued", final=True)
