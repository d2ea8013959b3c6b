"""Every domain-event handler, wired here and nowhere else (callcenter/wiring.py imports this).

In-turn handlers run inside the publisher's transaction: the turn fails if they fail, so only what
must commit with the change belongs here. After-commit handlers run from durable rows once the change
has committed, each in its own transaction, retried by the worker (callcenter/unit_of_work.py).
"""

from __future__ import annotations

from . import agents, distribution, events
from .mail import outbound
from .paging import sources

IN_TURN: list[tuple[type, events.Handler]] = [
    # A critical fault's page, an unanswered caller's page and their escalation timers: paging the
    # on-call engineer is the reason the turn exists; a ticket without its page would be silent.
    (events.CriticalFaultReported, sources.on_critical_fault),
    (events.HotlineUnanswered, sources.on_hotline_unanswered),
    # A caller who is gone resolves the alert about them in the same transaction that closes the call,
    # so no escalation step fires for a closed call.
    (events.CallLost, sources.on_call_lost),
    # The live call queue: offers to agents, the cancelled offer of a caller who hung up and the
    # callback list are the call's own state (the caller is routed by them).
    (events.CallEnded, agents.on_call_ended),
    (events.CallEnded, distribution.on_call_ended),
    (events.CallQueued, distribution.on_queued),
    (agents.AgentAvailable, distribution.on_available),
]

# (event, handler, which events it wants a durable row for: None for all)
AFTER_COMMIT: list[tuple[type, events.Handler, events.Wants | None]] = [
    # Mail to customers and approvers: never worth a ticket, a call turn or a decision. A customer's
    # own mail causes no phase mail (they know what they wrote).
    (events.TicketCreated, outbound.on_ticket_created, outbound.wants_ticket_created),
    (events.TicketChanged, outbound.on_ticket_changed, outbound.wants_ticket_changed),
    (events.ApprovalRequested, outbound.on_approval_requested, None),
    (events.ApprovalDecided, outbound.on_approval_decided, None),
]


def wire() -> None:
    for event_type, handler in IN_TURN:
        events.subscribe(event_type, handler)
    for event_type, handler, wants in AFTER_COMMIT:
        events.subscribe(event_type, handler, after_commit=True, wants=wants)


wire()
