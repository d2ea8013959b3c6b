"""The request's database session (as in Flask's tutorial, `flaskr/db.py`).

Views and webhooks import `db_session` from here; the app factory calls `init_app` once. Nothing in
the web package imports `callcenter.app`, so the factory can import every blueprint at module level.
"""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ..config import Settings
from ..db import make_session_factory
from ..unit_of_work import finish


def init_app(app: Flask, engine: Engine, settings: Settings) -> None:
    """Keep the engine and session factory on the app and close the request's session at teardown."""
    app.extensions["engine"] = engine
    app.extensions["session_factory"] = make_session_factory(engine, settings)
    app.teardown_appcontext(close_db_session)


def session_factory() -> sessionmaker[Session]:
    """The app's session factory, for adapters that open their own unit of work per request."""
    return current_app.extensions["session_factory"]


def db_session() -> Session:
    """The request's session, opened on first use and ended by the unit of work's `finish` when the
    request ends; a view commits (and so dispatches its domain events) what it means to keep."""
    if "db" not in g:
        g.db = session_factory()()
    return g.db


def close_db_session(exc: BaseException | None = None) -> None:
    """The request's unit of work ends: what its view did not commit is rolled back."""
    session: Session | None = g.pop("db", None)
    if session is not None:
        finish(session)
