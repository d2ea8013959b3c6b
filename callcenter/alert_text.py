"""The summaries the system gives the alerts it raises, in a reader's language.

callcenter/paging/sources.py writes them in English and stores them (the API and the CLI show them so).
The console (web/alert_trail.py) and the pager's SMS and voice calls (paging/notify.py) recognise them
here and say them in the reader's language from the same catalogs as the console; a summary a person
wrote is left as written. No Flask here: the pager runs in the worker.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.support import Translations

TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def N_(message: str) -> str:  # noqa: N802 - the gettext convention: marks a message for extraction only
    return message


# (how sources.py writes it, the message, the message's values from the match)
SUMMARIES: list[tuple[re.Pattern, str, Callable[[re.Match], dict[str, str]]]] = [
    (re.compile(r"^Hotline call not answered for (\d+) min: (.*)$", re.S),
     N_("Hotline call not answered for %(minutes)s min: %(subject)s"), lambda m: {"minutes": m[1], "subject": m[2]}),
    (re.compile(r"^Hotline call not answered for (\d+) min$"),
     N_("Hotline call not answered for %(minutes)s min"), lambda m: {"minutes": m[1]}),
    (re.compile(r"^SLA response deadline breached: (.*)$", re.S),
     N_("SLA response deadline breached: %(subject)s"), lambda m: {"subject": m[1]}),
    (re.compile(r"^SLA response deadline at (\S+): (.*)$", re.S),
     N_("SLA response deadline at %(at)s: %(subject)s"), lambda m: {"at": m[1], "subject": m[2]}),
]


def summary_text(summary: object, gettext: Callable[[str], str], zone: str = "Europe/Budapest") -> str:
    """`summary` through `gettext` when the system wrote it; times as 24-hour local times in `zone`."""
    text = "" if summary is None else str(summary)
    for pattern, message, values in SUMMARIES:
        m = pattern.match(text)
        if m is not None:
            found = values(m)
            if "at" in found:
                found["at"] = _local(found["at"], zone)
            return gettext(message) % found
    return text


def summary_in(summary: object, language: str | None, zone: str = "Europe/Budapest") -> str:
    """The summary in `language` (hu, el, en) outside the console: for SMS and voice pages."""
    return summary_text(summary, _catalog((language or "en")[:2]).gettext, zone)


def said_in(message: str, language: str | None) -> str:
    """A message marked with N_() in `language` (hu, el, en) outside the console, from its catalogs."""
    return _catalog((language or "en")[:2]).gettext(message)


@lru_cache(maxsize=8)
def _catalog(language: str) -> Translations:
    return Translations.load(str(TRANSLATIONS), [language])


def _local(iso: str, zone: str) -> str:
    try:
        return datetime.fromisoformat(iso).astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso
