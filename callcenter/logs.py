"""Log lines that say what they are about: one line per event, carrying the call, ticket, alert ...
ids as fields, as plain text or as JSON (`CALLCENTER_LOG_FORMAT=json`, one object per line, for
journald or a log shipper).

Ids get onto a line two ways: `bound(call="CA...")` around a piece of work (a webhook, an AGI call,
a timer, an outbox send) puts them on every line logged inside it, including the services' own;
`log.info("...", extra=ids(ticket=15001))` adds them to one line.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

# The id fields a line may carry, in the order text lines print them: `call` is the provider's call id
# (Twilio CallSid, Asterisk uniqueid), `ticket` a ticket number, `*_id` our database ids.
FIELDS = ("call", "sms", "ticket", "call_id", "ticket_id", "alert_id", "page_id", "outbox_id", "timer_id",
          "mail_id", "channel", "source")

_bound: contextvars.ContextVar[dict[str, object] | None] = contextvars.ContextVar("hotline_log_ids", default=None)


@contextmanager
def bound(**ids: object) -> Iterator[None]:
    """Every line logged inside carries these ids (None values are left out)."""
    token = _bound.set({**(_bound.get() or {}), **{k: v for k, v in ids.items() if v is not None}})
    try:
        yield
    finally:
        _bound.reset(token)


def push(**ids: object) -> contextvars.Token:
    """`bound` for hooks that open and close in different functions (a request's before/teardown)."""
    return _bound.set({**(_bound.get() or {}), **{k: v for k, v in ids.items() if v is not None}})


def pop(token: contextvars.Token) -> None:
    _bound.reset(token)


def ids(**values: object) -> dict[str, dict[str, object]]:
    """`extra=` for one log line: `log.info("...", extra=ids(ticket=15001))`."""
    return {"hotline_ids": {k: v for k, v in values.items() if v is not None}}


def _ids_of(record: logging.LogRecord) -> dict[str, object]:
    found = dict(getattr(record, "hotline_bound", None) or {})
    found.update(getattr(record, "hotline_ids", None) or {})
    return found


def _install_record_factory() -> None:
    """Bound ids are taken when a line is logged (in the thread or task doing the work), not when a
    handler formats it later."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "hotline_ids", False):
        return

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.hotline_bound = _bound.get()
        return record

    factory.hotline_ids = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


_install_record_factory()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        found = _ids_of(record)
        if not found:
            return line
        ordered = [k for k in FIELDS if k in found] + sorted(k for k in found if k not in FIELDS)
        head, sep, tail = line.partition("\n")  # ids go on the message line, before any traceback
        return head + " [" + " ".join(f"{k}={found[k]}" for k in ordered) + "]" + sep + tail


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(_ids_of(record))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(log_format: str = "text", level: int = logging.INFO) -> None:
    """Root logging for a `callcenter` process: text (default) or JSON lines, to stderr."""
    fmt = (log_format or "text").strip().lower()
    if fmt not in ("text", "json"):
        raise ValueError(f"CALLCENTER_LOG_FORMAT must be 'text' or 'json', not {log_format!r}")
    root = logging.getLogger()
    if any(not getattr(h, "hotline", False) for h in root.handlers):
        return  # someone configured logging already (an embedding program, the test runner): as basicConfig
    handler = logging.StreamHandler(sys.stderr)
    handler.hotline = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
