"""On-call paging: rotations, escalation policies, alerts, the escalation engine and notifications.

Importing `callcenter.paging.sources` (listed in wiring.SERVICE_MODULES) registers the timer
handlers, the outbox status hook, the domain-event subscribers and the SLA periodic job.
"""
