"""How the console writes times, waits, sizes and numbers: 24-hour local times in the viewer's zone,
one wait format everywhere, numbers in the viewer's locale (decimal comma in Hungarian and Greek)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask
from flask_babel import format_decimal

from .labels import customer_label, label


def wait(seconds: float | None) -> str:
    """A caller's wait or a talk time: m:ss, or h:mm:ss from an hour on; the same on every page."""
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds >= 3600:
        return f"{sign}{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return f"{sign}{seconds // 60}:{seconds % 60:02d}"


def hours_minutes(seconds: float | None) -> str:
    """Working time left on an SLA clock: h:mm."""
    if seconds is None:
        return "—"
    sign = "-" if seconds < 0 else ""
    seconds = abs(int(seconds))
    return f"{sign}{seconds // 3600}:{seconds // 60 % 60:02d}"


def local_time(t: datetime | None, zone: str = "Europe/Budapest") -> str:
    """A stored UTC time as 24-hour local time in `zone` (a contract's or the viewer's)."""
    return "" if t is None else t.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def number(value: object, digits: int = 2) -> str:
    """A decimal in the viewer's locale: 1,25 in hu and el, 1.25 in en."""
    if value is None:
        return "—"
    return format_decimal(value, format="#,##0." + "0" * digits if digits else "#,##0")


def filesize(size: int | None) -> str:
    if size is None:
        return ""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{number(size / 1024, 0)} KB"
    return f"{number(size / (1024 * 1024), 1)} MB"


def register(app: Flask) -> None:
    """The console's template filters, in one place."""
    for name, fn in (("label", label), ("customer_label", customer_label), ("hm", hours_minutes),
                     ("local", local_time), ("wait", wait), ("number", number), ("filesize", filesize)):
        app.add_template_filter(fn, name)
