"""Web console state: login attempts (the log), the lockout counter, and report indexes on tickets."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow
from .ticket import Ticket


class LoginAttempt(Base):
    """One console login try; repeated failures for a login name lock it out for a while."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_login_at", "login", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(254))  # staff username or contact e-mail, lower-cased
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    success: Mapped[bool] = mapped_column(Boolean, default=False)
    remote_addr: Mapped[str | None] = mapped_column(String(64))



class LoginThrottle(Base):
    """Failed-login counter of one login name, claimed with a conditional UPDATE before every password check.

    A check first takes a slot (`failures < limit` in the UPDATE's WHERE), so parallel wrong passwords cannot
    all pass a count they each read before the others wrote; a success gives the slots back.
    """

    __tablename__ = "login_throttles"

    login: Mapped[str] = mapped_column(String(254), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime)


# The quarterly report reads one company's tickets created in a date range; on PostgreSQL the index
# carries every column the report aggregates, so a quarter is one index-only scan.
REPORT_COLUMNS = ("category", "contract_id", "sla_response_minutes", "sla_started_at", "responded_at",
                  "response_due_at", "response_breached", "response_minutes", "response_minutes_basis")
Index("ix_tickets_company_created", Ticket.company_id, Ticket.created_at, postgresql_include=list(REPORT_COLUMNS))
