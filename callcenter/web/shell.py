"""What every console page shares: session cookies, login, CSRF, languages, template filters, the menu.

The app factory calls `init_app` before registering the console's blueprints.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Flask
from flask_babel import get_locale
from flask_login import current_user

from . import i18n, login
from .labels import label
from .navigation import items_for


def init_app(app: Flask) -> None:
    settings = app.config["SETTINGS"]
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=settings.session_hours)
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = settings.public_url.startswith("https://")
    # The JSON API (token auth) and the Twilio webhooks (signatures) are not cookie-authenticated,
    # so CSRF is checked only where the console's forms post (login.csrf_check).
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.config["WTF_CSRF_TIME_LIMIT"] = None  # the token lives as long as the session
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(Path(__file__).resolve().parent.parent / "translations")
    login.csrf.init_app(app)
    login.login_manager.init_app(app)
    i18n.babel.init_app(app, locale_selector=i18n.select_locale)
    app.add_template_filter(label, "label")
    app.add_template_filter(hours_minutes, "hm")
    app.add_template_filter(local_time, "local")
    app.context_processor(_console_globals)


def _console_globals() -> dict:
    role = current_user.role if current_user and current_user.is_authenticated else None
    return {"nav_items": items_for(role) if role else [], "languages": i18n.LANGUAGES,
            "current_locale": str(get_locale())}


def hours_minutes(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    sign = "-" if seconds < 0 else ""
    seconds = abs(int(seconds))
    return f"{sign}{seconds // 3600}:{seconds // 60 % 60:02d}"


def local_time(t: datetime | None, zone: str = "Europe/Budapest") -> str:
    return "" if t is None else t.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
