"""Error pages in the console's own look: the menu, the user's language and a way back.

`params.init_params` routes every HTML error here (the API and the webhooks keep their own answers).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import render_template, request, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.http import HTTP_STATUS_CODES

from .login import safe_next

log = logging.getLogger(__name__)

TITLES = {
    400: _l("Bad Request"), 401: _l("Unauthorized"), 403: _l("Forbidden"), 404: _l("Not Found"),
    405: _l("Method Not Allowed"), 410: _l("Gone"), 413: _l("Request Entity Too Large"),
    429: _l("Too Many Requests"), 500: _l("Internal Server Error"), 503: _l("Service Unavailable"),
}
EXPLANATIONS = {
    400: _l("Something in the request could not be used. Check what you entered and try again."),
    403: _l("Your account may not open this page."),
    404: _l("There is no such page, or it is not visible to you."),
    405: _l("This page cannot be used that way."),
    410: _l("This is no longer available."),
    413: _l("What you sent is too large."),
    500: _l("Something went wrong on our side. It has been logged; please try again in a moment."),
    503: _l("The service is busy or restarting. Please try again in a moment."),
}


def _back_link() -> str | None:
    """Where the user came from, when that was a page of this site (never another host)."""
    referrer = request.referrer or ""
    parts = urlsplit(referrer)
    if not referrer or parts.netloc != request.host:
        return None
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    target = safe_next(path, "")
    return target if target and target != request.full_path.rstrip("?") else None


def error_page(code: int, detail: str | None = None) -> tuple[str, int]:
    """The themed page for `code`; plain text if the page itself cannot be drawn (e.g. the database is gone)."""
    title = TITLES.get(code, TITLES[500 if code >= 500 else 400])
    explanation = EXPLANATIONS.get(code, EXPLANATIONS[500 if code >= 500 else 400])
    try:
        html = render_template("error.html", code=code, title=title, explanation=explanation, detail=detail,
                               back=_back_link(), home=url_for("console.home"))
    except Exception:  # noqa: BLE001 - the error page must never fail in its turn
        log.exception("the %s error page could not be drawn", code)
        # Nothing lazy here: translating the title asks for the reader's language, which may need the very
        # database (the logged-in person) whose failure is being reported.
        return f"{code} {HTTP_STATUS_CODES.get(code, 'Error')}\n{detail or ''}\n", code
    return html, code
