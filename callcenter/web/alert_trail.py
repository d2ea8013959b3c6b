"""An alert's audit trail in the reader's language.

The paging engine (callcenter/paging) writes each trail entry's detail as an English sentence and
stores it: it knows nothing of the console's languages, and the trail must read the same in the CLI
and the API. The console recognises those sentences here and writes them again in the viewer's
language; a detail it does not recognise is shown as stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from flask_babel import gettext as _

from ..alert_text import summary_text
from .formats import local_time, viewer_zone
from .labels import label

_Render = Callable[[re.Match], str]


def _time(text: str) -> str:
    try:
        return local_time(datetime.fromisoformat(text))
    except ValueError:
        return text


# (pattern of paging/engine.py, alerts.py or commands.py, how it reads in the viewer's language); first match wins.
PATTERNS: list[tuple[re.Pattern, _Render]] = [
    (re.compile(r"^loop (\d+), step (\d+): (.*)$"),
     lambda m: _("round %(loop)s, step %(step)s: %(who)s", loop=m[1], step=m[2], who=m[3])),
    (re.compile(r"^(\w+) to (\S+) \(rule (\d+), outbox (\d+)\)$"),
     lambda m: _("%(channel)s to %(to)s (rule %(rule)s, outbox %(id)s)", channel=label(m[1]), to=m[2], rule=m[3],
                 id=m[4])),
    (re.compile(r"^raised again: (.*)$", re.S), lambda m: _("raised again: %(summary)s", summary=m[1])),
    (re.compile(r"^(\w+) (.*); policy (.*)$"),
     lambda m: _("%(source)s %(key)s; policy %(policy)s", source=label(m[1]), key=m[2],
                 policy=_("none") if m[3] == "none" else m[3])),
    (re.compile(r"^by (.*); (\d+) queued notifications dropped$"),
     lambda m: _("by %(name)s; %(n)s queued notifications dropped", name=m[1], n=m[2])),
    (re.compile(r"^by (.*): paging starts over$"), lambda m: _("by %(name)s: paging starts over", name=m[1])),
    (re.compile(r"^by ([^:]*)$"), lambda m: _("by %(name)s", name=m[1])),
    (re.compile(r"^by ([^:]*): (.*)$", re.S), lambda m: _("by %(name)s: %(note)s", name=m[1], note=m[2])),
    (re.compile(r"^outbox (\d+)$"), lambda m: _("outbox %(id)s", id=m[1])),
    (re.compile(r"^no escalation policy: nobody is paged$"), lambda m: _("no escalation policy: nobody is paged")),
    (re.compile(r"^every step and repeat paged; nobody acknowledged$"),
     lambda m: _("every step and repeat paged; nobody acknowledged")),
    (re.compile(r"^(.*) has no phone number$"), lambda m: _("%(name)s has no phone number", name=m[1])),
    (re.compile(r"^answered by (.*): not counted as reached$"),
     lambda m: _("answered by %(who)s: not counted as reached", who=label(m[1]))),
    (re.compile(r"^(.*): next contact method now instead of at (\S+)$"),
     lambda m: _("%(reason)s: next contact method now instead of at %(at)s", reason=label(m[1]), at=_time(m[2]))),
    (re.compile(r"^(.*): no more contact methods for this person$"),
     lambda m: _("%(reason)s: no more contact methods for this person", reason=label(m[1]))),
    (re.compile(r"^(\w+) (\S+) after the alert was (\w+), outbox (\d+)$"),
     lambda m: _("%(channel)s %(status)s after the alert was %(alert)s, outbox %(id)s", channel=label(m[1]),
                 status=label(m[2]), alert=label(m[3], "alert"), id=m[4])),
    (re.compile(r"^acknowledged by (.*) (\d+) min ago and the ticket has not moved since: paging again$"),
     lambda m: _("acknowledged by %(name)s %(minutes)s min ago and the ticket has not moved since: paging again",
                 name=m[1], minutes=m[2])),
    (re.compile(r"^no acknowledgement after step (\d+)$"),
     lambda m: _("no acknowledgement after step %(step)s", step=m[1])),
    (re.compile(r"^([\w -]+), outbox (\d+)$"), lambda m: _("%(reason)s, outbox %(id)s", reason=label(m[1]), id=m[2])),
]

def alert_summary(summary: object) -> str:
    """An alert's summary in the viewer's language when the system wrote it (as stored otherwise)."""
    return summary_text(summary, _, viewer_zone())


def alert_detail(detail: object) -> str:
    """One trail entry's detail in the viewer's language (as stored when it is not one of the engine's)."""
    text = "" if detail is None else str(detail)
    for pattern, render in PATTERNS:
        m = pattern.match(text)
        if m is not None:
            return render(m)
    return text
