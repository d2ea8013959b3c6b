"""In-process domain events: services publish, other services react in the same transaction.

Handlers must not do network I/O: they write rows (outbox messages, alerts, timers) in the
caller's session, so a ticket change and the mail or page it causes commit together or not at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

Handler = Callable[[Session, Any], None]
_handlers: dict[type, list[Handler]] = defaultdict(list)


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


def subscribe(event_type: type, handler: Handler) -> None:
    if handler not in _handlers[event_type]:
        _handlers[event_type].append(handler)


def unsubscribe(event_type: type, handler: Handler) -> None:
    if handler in _handlers[event_type]:
        _handlers[event_type].remove(handler)


def publish(session: Session, event: object) -> None:
    for handler in list(_handlers[type(event)]):
        handler(session, event)


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
