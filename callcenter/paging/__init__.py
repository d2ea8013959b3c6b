"""On-call paging: rotations, escalation policies, alerts, the escalation engine and notifications.

Importing `callcenter.paging.sources` (listed in wiring.SERVICE_MODULES) registers the timer
handlers, the outbox status hook and the SLA periodic job; its domain-event handlers (critical faults,
unanswered and lost callers) are wired in-turn in callcenter/handlers.py.
"""
