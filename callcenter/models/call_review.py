"""Quality review of recorded calls and the audit trail of who heard or removed a recording."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow

# The QA form's criteria, in the order the form shows them; each is scored 0-5.
REVIEW_CRITERIA = ("greeting", "identification", "problem_capture", "solution", "courtesy")
MAX_SCORE = 5


class CallReview(Base):
    """One reviewer's scores for one call (a call may be reviewed more than once)."""

    __tablename__ = "call_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    reviewer_name: Mapped[str] = mapped_column(String(200))
    greeting: Mapped[int] = mapped_column(Integer)
    identification: Mapped[int] = mapped_column(Integer)
    problem_capture: Mapped[int] = mapped_column(Integer)
    solution: Mapped[int] = mapped_column(Integer)
    courtesy: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)  # sum of the criteria, 0..25, kept for SQL averages
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def score(self, criterion: str) -> int:
        return int(getattr(self, criterion))


class RecordingAudit(Base):
    """Every playback, download and deletion of a recording: who, when, which, from where."""

    __tablename__ = "recording_audit"
    __table_args__ = (Index("ix_recording_audit_recording_at", "recording_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id", ondelete="CASCADE"))
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(12))   # play, download, deleted
    actor_kind: Mapped[str] = mapped_column(String(10))  # staff, contact, system
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_name: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str | None] = mapped_column(String(12))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    detail: Mapped[str | None] = mapped_column(Text)
