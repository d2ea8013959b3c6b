"""Application factory: settings, database, blueprints."""

from __future__ import annotations

import secrets

from flask import Flask, jsonify

from webhooks.twilio_agent import bp as twilio_agent
from webhooks.twilio_paging import paging_twilio
from webhooks.twilio_voice import bp as twilio_voice

from . import metrics
from .config import Settings, load_settings
from .db import DbTimeouts, HealthProbe, make_engine
from .web import db, i18n, login, oncall_views, portal_views, report_views, shell
from .web.agent_views import init_agents
from .web.api import api
from .web.api_alerts import alerts_api
from .web.calls_views import bp as calls_views
from .web.console import bp as console
from .web.mail_api import mail_api
from .web.params import init_params
from .web.security import init_security


def create_app(settings: Settings | None = None, engine=None) -> Flask:  # noqa: ANN001
    from .wiring import load_services

    load_services()
    settings = settings or load_settings()
    app = Flask(__name__)
    app.config["SETTINGS"] = settings
    app.config["SECRET_KEY"] = settings.secret_key or secrets.token_hex(32)
    app.config["MAX_CONTENT_LENGTH"] = 10 * 1024 * 1024
    init_params(app)  # before any blueprint: the bounded `int` path converter, input checks, 400/404/405
    engine = engine or make_engine(settings.database_url, timeouts=DbTimeouts.from_settings(settings))
    db.init_app(app, engine, settings)

    health = HealthProbe(engine)

    @app.get("/healthz")
    def healthz():  # noqa: ANN202
        # Answered within a second even when the database accepts connections and never answers.
        problem = health.check()
        if problem is not None:
            return jsonify(status="error", database=problem), 503
        return jsonify(status="ok", database="ok")

    for blueprint in (api, alerts_api, mail_api, twilio_voice, twilio_agent, paging_twilio):
        app.register_blueprint(blueprint)
    shell.init_app(app)
    for blueprint in (login.bp, i18n.bp, console, report_views.bp, oncall_views.bp, portal_views.bp):
        app.register_blueprint(blueprint)
    init_agents(app)
    init_security(app)
    metrics.init_app(app)
    # After the console: the calls pages use the console's login, CSRF and menu.
    app.register_blueprint(calls_views)
    return app
