"""Imports the services that register timer handlers, outbox hooks and periodic jobs, and wires every
domain-event handler (callcenter/handlers.py), so every process (web, agi, worker) reacts the same way."""

from __future__ import annotations

import importlib

SERVICE_MODULES = [
    "callcenter.sla_jobs",
    "callcenter.mail",
    "callcenter.calls",
    "callcenter.call_presence",
    "callcenter.recordings",
    "callcenter.paging.sources",
    "callcenter.agents",
    "callcenter.distribution",
    "callcenter.callbacks",
    "callcenter.call_review",
    "callcenter.recording_sync",
    "callcenter.providers.asterisk_ami",
    "callcenter.pbx_events",
    "callcenter.providers.asterisk_events",
    "callcenter.unit_of_work",
    "callcenter.handlers",
]


def load_services() -> None:
    for name in SERVICE_MODULES:
        importlib.import_module(name)
