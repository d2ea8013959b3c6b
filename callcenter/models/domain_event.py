"""Durable domain events: one row per (event, after-commit handler), written in the transaction that
caused the event, so the effect (a mail, a statistic) is neither lost by a crash after the commit nor
able to undo the change that caused it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class DomainEventState(StrEnum):
    PENDING = "pending"  # not dispatched yet (or the process died between commit and dispatch)
    FAILED = "failed"    # the handler raised; retried at next_attempt_at
    DONE = "done"        # the handler's effect committed, in the same transaction as this state
    DEAD = "dead"        # attempts exhausted; last_error says why


class DomainEvent(Base):
    __tablename__ = "domain_events"
    __table_args__ = (Index("ix_domain_events_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_type: Mapped[str] = mapped_column(String(100))  # the event class's name, e.g. TicketCreated
    handler: Mapped[str] = mapped_column(String(200))  # module:function of the after-commit handler
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    # What the publishing transaction knew that the handler needs and the event does not carry
    # (the mail being ingested, its auto-reply suppression); session.info["event_cause"].
    cause: Mapped[dict | None] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(10), default=DomainEventState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=6)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
