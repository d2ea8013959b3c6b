"""Periodic SLA bookkeeping: flag breached response deadlines."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from .config import Settings
from .db import session_scope
from .scheduler import periodic
from .sla import mark_breaches


@periodic("sla-breaches", seconds=60)
def flag_breaches(factory: sessionmaker[Session], settings: Settings, now: datetime) -> None:
    with session_scope(factory) as session:
        mark_breaches(session, now)
