"""What every console page shares: session cookies, login, CSRF, languages, template filters, the menu.

The app factory calls `init_app` before registering the console's blueprints.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from flask import Flask
from flask_babel import get_locale
from flask_login import current_user

from . import alert_trail, formats, i18n, login
from .navigation import items_for


def init_app(app: Flask) -> None:
    settings = app.config["SETTINGS"]
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=settings.session_hours)
    # Cookie flags (Secure behind https, HttpOnly, SameSite) are set for the whole app by web.security.
    # The JSON API (token auth) and the Twilio webhooks (signatures) are not cookie-authenticated,
    # so CSRF is checked only where the console's forms post (login.csrf_check).
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.config["WTF_CSRF_TIME_LIMIT"] = None  # the token lives as long as the session
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(Path(__file__).resolve().parent.parent / "translations")
    login.csrf.init_app(app)
    login.login_manager.init_app(app)
    i18n.babel.init_app(app, locale_selector=i18n.select_locale, timezone_selector=i18n.select_timezone)
    formats.register(app)
    app.add_template_filter(alert_trail.alert_detail, "alert_detail")
    app.add_template_filter(alert_trail.alert_summary, "alert_summary")
    app.context_processor(_console_globals)


def _console_globals() -> dict:
    role = current_user.role if current_user and current_user.is_authenticated else None
    return {"nav_items": items_for(role) if role else [], "languages": i18n.LANGUAGES,
            "current_locale": str(get_locale())}
