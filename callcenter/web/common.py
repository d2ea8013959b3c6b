"""Helpers every console view shares: the request's clock and the acting user.

The request's database session is `callcenter.web.db.db_session`.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_login import current_user

from ..models import utcnow
from ..tickets import Actor


def now() -> datetime:
    """The request's clock; tests may pin it with app.config["CLOCK"]."""
    return current_app.config.get("CLOCK", utcnow)()


def actor() -> Actor:
    """The signed-in user as the actor of a ticket change."""
    return Actor("staff" if current_user.is_staff else "contact", current_user.record_id, current_user.name)
