"""On-call paging: rotations, overrides, escalation policies, notification rules, alerts and pages."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow
from .staff import StaffUser

if TYPE_CHECKING:
    from .ticket import Ticket


class Rotation(Base):
    """Members take turns; the hand-over is at a local wall-clock time in the rotation's zone."""

    __tablename__ = "rotations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Budapest")
    kind: Mapped[str] = mapped_column(String(10), default="weekly")  # weekly, daily
    handover_time: Mapped[str] = mapped_column(String(5), default="09:00")  # local HH:MM
    # The first hand-over is on this local date (a weekly rotation's date sets its weekday).
    start_date: Mapped[date] = mapped_column(Date)
    member_ids: Mapped[list] = mapped_column(JSON, default=list)  # staff ids in turn order
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    overrides: Mapped[list[RotationOverride]] = relationship(
        back_populates="rotation", cascade="all, delete-orphan", order_by="RotationOverride.id")


class RotationOverride(Base):
    """Someone covers [start_at, end_at); the newest override wins where several overlap."""

    __tablename__ = "rotation_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    rotation_id: Mapped[int] = mapped_column(ForeignKey("rotations.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    rotation: Mapped[Rotation] = relationship(back_populates="overrides")
    staff: Mapped[StaffUser] = relationship()


class EscalationPolicy(Base):
    """Ordered steps: [{"delay_minutes": 5, "targets": [{"kind": "rotation", "id": 1}, ...]}, ...].

    Target kinds: rotation (its on-call person), staff (id), level (L2/L3 team), managers.
    After the last step the policy starts over `repeat` more times.
    """

    __tablename__ = "escalation_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    steps: Mapped[list] = mapped_column(JSON, default=list)
    repeat: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NotificationRule(Base):
    """How to reach one person: e.g. SMS at once, a voice call after 2 minutes without acknowledgement."""

    __tablename__ = "notification_rules"
    __table_args__ = (UniqueConstraint("staff_id", "channel", "delay_minutes"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(10))  # sms, voice
    delay_minutes: Mapped[int] = mapped_column(Integer, default=0)


class AlertStatus(StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(20))  # hotline, standby, sla, api
    dedup_key: Mapped[str] = mapped_column(String(200))
    # "<source>:<dedup_key>" while the alert is open, NULL once resolved: one open alert per key.
    open_key: Mapped[str | None] = mapped_column(String(230), unique=True)
    # Once-only triggers (an SLA threshold of one ticket) keep their key after resolution.
    trigger_key: Mapped[str | None] = mapped_column(String(230), unique=True)
    summary: Mapped[str] = mapped_column(String(300))
    details: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[str] = mapped_column(String(10), default="critical")
    status: Mapped[str] = mapped_column(String(12), default=AlertStatus.TRIGGERED)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    ticket_number: Mapped[int | None] = mapped_column(Integer, index=True)
    customer: Mapped[str | None] = mapped_column(String(200))
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("escalation_policies.id"))
    # The policy as it was when the alert opened: later edits do not change an escalation in flight.
    policy_snapshot: Mapped[dict] = mapped_column(JSON, default=dict)
    loop: Mapped[int] = mapped_column(Integer, default=0)
    step: Mapped[int] = mapped_column(Integer, default=0)
    unreached: Mapped[bool] = mapped_column(Boolean, default=False)
    # How often an acknowledgement timed out and paging resumed (keeps each round's timer keys apart).
    ack_timeouts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    ack_channel: Mapped[str | None] = mapped_column(String(10))  # sms, voice, web, api, cli
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    events: Mapped[list[AlertEvent]] = relationship(back_populates="alert", order_by="AlertEvent.id",
                                                    cascade="all, delete-orphan")
    acknowledged_by: Mapped[StaffUser | None] = relationship()
    ticket: Mapped[Ticket | None] = relationship()

    @property
    def reference(self) -> int:
        """What engineers type in SMS replies: the ticket number, else the alert id."""
        return self.ticket_number or self.id


class AlertEvent(Base):
    """The alert's audit trail: raised, notified, delivered, failed over, acknowledged, escalated ..."""

    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(20))
    staff_id: Mapped[int | None] = mapped_column(Integer)
    channel: Mapped[str | None] = mapped_column(String(10))
    detail: Mapped[str | None] = mapped_column(Text)

    alert: Mapped[Alert] = relationship(back_populates="events")


class Page(Base):
    """One person paged at one step of one loop; their notification rules are copied in."""

    __tablename__ = "pages"
    __table_args__ = (UniqueConstraint("alert_id", "round", "loop", "step", "staff_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    # 0, then one more each time an acknowledgement timed out and paging resumed (Alert.ack_timeouts).
    round: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    loop: Mapped[int] = mapped_column(Integer)
    step: Mapped[int] = mapped_column(Integer)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    destination: Mapped[str] = mapped_column(String(20))
    rules: Mapped[list] = mapped_column(JSON, default=list)  # [{"channel": "sms", "delay_minutes": 0}, ...]
    exhausted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    alert: Mapped[Alert] = relationship()
    staff: Mapped[StaffUser] = relationship()


class InboundSms(Base):
    """Each SMS reply to a page, by the provider's message id (Twilio's MessageSid), with the answer it got.
    A webhook delivered again (Twilio retries one it did not hear answered; a captured signed request
    can be replayed) is answered the same and acts once: `ESC` from a manager, who may escalate at any
    step, would otherwise move the alert on a step per delivery."""

    __tablename__ = "inbound_sms"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_ref: Mapped[str] = mapped_column(String(64), unique=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # None: no answer was sent (a sender we do not know).
    answer: Mapped[str | None] = mapped_column(Text)
