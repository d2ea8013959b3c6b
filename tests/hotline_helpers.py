"""Shared bits of the hotline tests: clock times, event capture, DB queries."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, event, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from callcenter import events
from callcenter.models import Call, Recording, Ticket

ANNA = "+3615550101"
NIKOS = "+302105550102"
STRANGER = "+3615559999"
HOTLINE_NUMBER = "+3615550100"
# Tuesday 10:00 Budapest / 11:00 Athens: inside both contracts' hours.
IN_HOURS = datetime(2026, 10, 6, 8, 0, tzinfo=UTC)
# Tuesday 22:00 Budapest / 23:00 Athens: outside both.
OUT_OF_HOURS = datetime(2026, 10, 6, 20, 0, tzinfo=UTC)
_CSRF_VALUE = re.compile(r'(name="csrf_token" value=)"[^"]*"')


def without_tokens(page: str) -> str:
    """The page less its random CSRF token values. Check the absence of a short word ("L2") on this, never on
    the raw page: a token is ~90 random base64 characters and holds any given two letters now and then."""
    return _CSRF_VALUE.sub(r'\1""', page)


@contextmanager
def unavailable(engine: Engine, error: Exception | None = None) -> Iterator[None]:
    """Every statement on `engine` fails while inside, with `error` (default: the connection refused)."""
    def fail(*_args: object) -> None:
        raise error or sa_exc.OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    event.listen(engine, "before_cursor_execute", fail)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", fail)


class Captured:
    """Collects the domain events the hotline publishes (paging subscribes to the same ones)."""

    def __init__(self) -> None:
        self.critical: list[events.CriticalFaultReported] = []
        self.unanswered: list[events.HotlineUnanswered] = []

    def _critical(self, _session: Session, event: events.CriticalFaultReported) -> None:
        self.critical.append(event)

    def _unanswered(self, _session: Session, event: events.HotlineUnanswered) -> None:
        self.unanswered.append(event)

    def __enter__(self) -> Captured:
        events.subscribe(events.CriticalFaultReported, self._critical)
        events.subscribe(events.HotlineUnanswered, self._unanswered)
        return self

    def __exit__(self, *exc: object) -> None:
        events.unsubscribe(events.CriticalFaultReported, self._critical)
        events.unsubscribe(events.HotlineUnanswered, self._unanswered)


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.2, what: str = "condition") -> Any:
    """Poll until `predicate` holds (its value is returned). `timeout` is a ceiling for a loaded machine, never a
    goal: a test that needs something to happen *before* something else waits for it like this, not for a time."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def wait_for_listener(port: int, proc: subprocess.Popen | None = None, timeout: float = 60) -> None:
    """Wait until something accepts connections on 127.0.0.1:`port` (a process we started, `proc`, which must
    not exit meanwhile). A cold Python start on a loaded machine can take many seconds: the ceiling is generous."""

    def listening() -> bool:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{proc.args!r} exited with {proc.returncode} before listening on {port}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        except OSError:
            return False
        return True

    wait_until(listening, timeout, interval=0.1, what=f"a listener on port {port}")


def call_row(session: Session, provider_call_id: str) -> Call:
    session.expire_all()
    call = session.scalar(select(Call).where(Call.provider_call_id == provider_call_id))
    assert call is not None, f"no call row for {provider_call_id}"
    return call


def tickets(session: Session) -> list[Ticket]:
    session.expire_all()
    return list(session.scalars(select(Ticket).order_by(Ticket.id)))


def recordings(session: Session, call: Call) -> list[Recording]:
    session.expire_all()
    return list(session.scalars(select(Recording).where(Recording.call_id == call.id).order_by(Recording.id)))


def summary(session: Session, provider_call_id: str) -> dict:
    """What both channels must agree on for the same caller and digits."""
    call = call_row(session, provider_call_id)
    ticket = session.get(Ticket, call.ticket_id) if call.ticket_id else None
    return {
        "outcome": call.outcome,
        "menu_path": call.menu_path,
        "language": call.language,
        "out_of_hours": call.out_of_hours,
        "company_id": call.company_id,
        "contact_id": call.contact_id,
        "asset_id": call.asset_id,
        "ticket": None if ticket is None else (ticket.category, ticket.priority, ticket.channel,
                                               ticket.reporter_contact_id, ticket.asset_id),
        "alerted": call.unanswered_alerted_at is not None,
        "ended": call.ended_at is not None,
    }


def stub_number_prompts(settings, root) -> None:  # noqa: ANN001
    """Empty stand-ins for the number files `callcenter prompts build` makes (the FastAGI adapter plays
    only files that exist; a scripted peer does not play them)."""
    from callcenter.ivr.prompts import SPOKEN_NUMBERS, number_key

    settings.prompts_dir = str(root)
    for lang in ("hu", "el", "en"):
        (root / lang / "digits").mkdir(parents=True, exist_ok=True)
        for n in SPOKEN_NUMBERS:
            (root / lang / f"{number_key(n)}.wav").write_bytes(b"RIFF")
