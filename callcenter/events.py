"""Domain events: services publish, other services react. Two kinds of handler, wired in
callcenter/handlers.py:

- in-turn handlers run at once, in the publisher's session and transaction: what must commit with the
  change or not at all (a critical fault's alert and its escalation timers, the call queue's offers).
  Their failure fails the turn, so only what the turn cannot do without belongs here.
- after-commit handlers (customer mail, notifications, statistics) never share the publisher's fate:
  publish() writes one durable `domain_events` row per handler in the publisher's transaction, and
  callcenter/unit_of_work.py runs each after the commit in a transaction of its own (the worker retries
  what failed or was never dispatched). Their failure is logged and kept; the change stays.

Handlers must not do network I/O either way: they write rows (outbox messages, alerts, timers).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy.orm import Session

from .models import DomainEvent

Handler = Callable[[Session, Any], None]
Wants = Callable[[Session, Any], bool]
_in_turn: dict[type, list[Handler]] = defaultdict(list)
_after_commit: dict[type, list[Handler]] = defaultdict(list)
_types: dict[str, type] = {}
_by_name: dict[str, Handler] = {}
_wants: dict[Handler, Wants] = {}

# session.info keys: what the publisher's transaction wants its after-commit handlers to know
# (a JSON-able dict, stored with the event), and the rows to dispatch once it commits.
CAUSE_KEY = "event_cause"
PENDING_KEY = "domain_events_pending"


@dataclass(frozen=True)
class TicketCreated:
    ticket_id: int
    now: datetime


@dataclass(frozen=True)
class TicketChanged:
    """One or more fields changed; `changes` is {field: [old, new]}, `note` the text the customer sees."""

    ticket_id: int
    event_id: int
    kind: str
    changes: dict = field(default_factory=dict)
    note: str | None = None
    public: bool = True
    now: datetime | None = None


@dataclass(frozen=True)
class ApprovalRequested:
    approval_id: int
    ticket_id: int
    now: datetime


@dataclass(frozen=True)
class ApprovalDecided:
    approval_id: int
    ticket_id: int
    approved: bool
    now: datetime


def handler_name(handler: Handler) -> str:
    return f"{handler.__module__}:{handler.__qualname__}"


def subscribe(event_type: type, handler: Handler, *, after_commit: bool = False,
              wants: Wants | None = None) -> None:
    """Register a handler; `after_commit` ones must be module-level functions (found again by name).
    `wants(session, event)`, asked at publish time, spares a durable row (and its transaction) for an
    event the after-commit handler would ignore."""
    table = _after_commit if after_commit else _in_turn
    if handler not in table[event_type]:
        table[event_type].append(handler)
    if after_commit:
        _types[event_type.__name__] = event_type
        _by_name[handler_name(handler)] = handler
        if wants is not None:
            _wants[handler] = wants


def unsubscribe(event_type: type, handler: Handler) -> None:
    for table in (_in_turn, _after_commit):
        if handler in table[event_type]:
            table[event_type].remove(handler)


def publish(session: Session, event: object) -> None:
    """Run the in-turn handlers now; record one durable row per after-commit handler, dispatched once
    this session commits (nothing happens if it rolls back)."""
    for handler in list(_in_turn[type(event)]):
        handler(session, event)
    later = _after_commit[type(event)]
    if not later:
        return
    payload = encode(event)
    due = getattr(event, "now", None)
    cause = session.info.get(CAUSE_KEY)
    for handler in list(later):
        wants = _wants.get(handler)
        if wants is not None and not wants(session, event):
            continue
        row = DomainEvent(event_type=type(event).__name__, handler=handler_name(handler), payload=payload,
                          cause=dict(cause) if cause else None, state="pending", attempts=0,
                          **({"next_attempt_at": due, "created_at": due} if isinstance(due, datetime) else {}))
        session.add(row)
        session.info.setdefault(PENDING_KEY, []).append(row)


def after_commit_handler(name: str) -> Handler | None:
    return _by_name.get(name)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _typed(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$datetime"}:
            return datetime.fromisoformat(value["$datetime"])
        if set(value) == {"$date"}:
            return date.fromisoformat(value["$date"])
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return value


def encode(event: object) -> dict:
    return {f.name: _plain(getattr(event, f.name)) for f in dataclasses.fields(event)}


def decode(event_type: str, payload: dict) -> object:
    """The event again from its row (KeyError for a type no after-commit handler subscribes to)."""
    return _types[event_type](**{k: _typed(v) for k, v in payload.items()})


@dataclass(frozen=True)
class CriticalFaultReported:
    """A critical fault arrived (phone or otherwise); paging decides whether the contract calls for a page
    (24/7 standby out of hours, or always when the contract says so)."""

    ticket_id: int
    company_id: int | None
    call_id: int | None
    out_of_hours: bool
    now: datetime


@dataclass(frozen=True)
class HotlineUnanswered:
    """A queued caller waited the contract's no-answer threshold and no agent took the call."""

    call_id: int
    ticket_id: int | None
    company_id: int | None
    waited_seconds: int
    now: datetime


@dataclass(frozen=True)
class CallQueued:
    """A hotline caller joined the queue for an agent."""

    call_id: int
    now: datetime


@dataclass(frozen=True)
class CallEnded:
    """A hotline call ended (published once per call)."""

    call_id: int
    now: datetime


@dataclass(frozen=True)
class CallLost:
    """A call was closed because its caller was gone (its AGI process died, Twilio says it ended)."""

    call_id: int
    reason: str
    now: datetime
