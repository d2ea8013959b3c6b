"""How the console writes times, waits, sizes and numbers: 24-hour local times in the viewer's zone,
one wait format everywhere, numbers in the viewer's locale (decimal comma in Hungarian and Greek)."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask, has_request_context
from flask_babel import format_decimal, format_percent, get_timezone
from flask_babel import gettext as _

from .labels import actor, customer_label, label


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


def viewer_zone() -> str:
    """The zone of the person looking (flask-babel's timezone selector, web.i18n.select_timezone)."""
    return str(get_timezone()) if has_request_context() else "Europe/Budapest"


def local_time(t: datetime | None, zone: object = None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC time as 24-hour local time in `zone` (a contract's), else in the viewer's zone."""
    if t is None:
        return ""
    return t.astimezone(ZoneInfo(zone if isinstance(zone, str) and zone else viewer_zone())).strftime(fmt)


def number(value: object, digits: int = 2) -> str:
    """A decimal in the viewer's locale: 1,25 in hu and el, 1.25 in en."""
    if value is None:
        return "—"
    return format_decimal(value, format="#,##0." + "0" * digits if digits else "#,##0")


def hours(value: float | None, digits: int = 2) -> str:
    """A number of hours with the viewer's decimal mark and unit: 1,50 ó in hu, 1.50 h in en."""
    if value is None:
        return "—"
    return _("%(n)s h", n=number(value, digits))


def minutes(value: float | None) -> str:
    """A whole number of minutes with its unit in the viewer's language."""
    if value is None:
        return "—"
    return _("%(n)s min", n=number(value, 0))


def percent(share: float | None, digits: int = 1) -> str:
    """A share (0..1) as a percentage in the viewer's locale: 12,5% in hu, 12.5% in en."""
    if share is None:
        return "—"
    return format_percent(share, format="#,##0." + "0" * digits + "%" if digits else "#,##0%")


def filesize(size: int | None) -> str:
    if size is None:
        return ""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{number(size / 1024, 0)} KB"
    return f"{number(size / (1024 * 1024), 1)} MB"


# How the ticket service writes some life-cycle values (callcenter.tickets): kept as stored, shown translated.
_TIME_ENTRY = re.compile(r"^(\d+) min = ([\d.]+) h( \(quick phone answer\))?$")
_LINK = re.compile(r"^([a-z_]+) (#?\d+)$")
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def change_value(value: object, field: str = "", zone: object = None) -> object:
    """One side of a life-cycle change (`field: old → new`) in the viewer's language: codes as labels,
    stored times as local 24-hour times, time entries and links with translated units and kinds."""
    if value is None or value == "":
        return "—"
    text = str(value)
    if _ISO_TIME.match(text):
        try:
            return local_time(datetime.fromisoformat(text), zone)
        except ValueError:
            return text
    if (m := _TIME_ENTRY.match(text)) is not None:
        shown = f"{minutes(int(m.group(1)))} = {hours(float(m.group(2)))}"
        return shown + (f" ({_('quick phone answer')})" if m.group(3) else "")
    if field == "link" and (m := _LINK.match(text)) is not None:
        return f"{label(m.group(1))} {m.group(2)}"
    return label(value)


def register(app: Flask) -> None:
    """The console's template filters, in one place."""
    for name, fn in (("label", label), ("customer_label", customer_label), ("hm", hours_minutes),
                     ("local", local_time), ("wait", wait), ("number", number), ("filesize", filesize),
                     ("hours", hours), ("minutes", minutes), ("percent", percent),
                     ("change", change_value), ("actor", actor)):
        app.add_template_filter(fn, name)
