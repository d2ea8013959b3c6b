"""Application factory: settings, database, blueprints."""

from __future__ import annotations

import secrets

from flask import Flask, g, jsonify
from sqlalchemy.orm import Session

from .config import Settings, load_settings
from .db import DbTimeouts, HealthProbe, make_engine, make_session_factory


def create_app(settings: Settings | None = None, engine=None) -> Flask:  # noqa: ANN001
    from .wiring import load_services

    load_services()
    settings = settings or load_settings()
    app = Flask(__name__)
    app.config["SETTINGS"] = settings
    app.config["SECRET_KEY"] = settings.secret_key or secrets.token_hex(32)
    app.config["MAX_CONTENT_LENGTH"] = 10 * 1024 * 1024
    engine = engine or make_engine(settings.database_url, timeouts=DbTimeouts.from_settings(settings))
    app.extensions["engine"] = engine
    app.extensions["session_factory"] = make_session_factory(engine, settings)

    @app.teardown_appcontext
    def _close_session(exc: BaseException | None) -> None:
        session: Session | None = g.pop("db", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()

    health = HealthProbe(engine)

    @app.get("/healthz")
    def healthz():  # noqa: ANN202
        # Answered within a second even when the database accepts connections and never answers.
        problem = health.check()
        if problem is not None:
            return jsonify(status="error", database=problem), 503
        return jsonify(status="ok", database="ok")

    from webhooks.twilio_agent import bp as twilio_agent
    from webhooks.twilio_paging import paging_twilio
    from webhooks.twilio_voice import bp as twilio_voice

    from .web.agent_views import init_agents
    from .web.api import api
    from .web.api_alerts import alerts_api
    from .web.calls_views import bp as calls_views
    from .web.console import init_console
    from .web.mail_api import mail_api

    for blueprint in (api, alerts_api, mail_api, twilio_voice, twilio_agent, paging_twilio):
        app.register_blueprint(blueprint)
    init_console(app)
    init_agents(app)
    # After init_console: the calls pages use the console's login, CSRF and menu.
    app.register_blueprint(calls_views)
    return app


def db_session() -> Session:
    """The request's session, opened on first use."""
    if "db" not in g:
        from flask import current_app

        g.db = current_app.extensions["session_factory"]()
    return g.db
