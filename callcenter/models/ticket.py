"""Tickets and everything that hangs off them: events, time entries, approvals, links."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow
from .customer import Asset, Company, Contact, Contract
from .staff import StaffUser


class Channel(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    WEB = "web"
    API = "api"


class Category(StrEnum):
    USER = "user"                      # user problem
    SYSTEM = "system"                  # system-level problem
    INFRASTRUCTURE = "infrastructure"  # infrastructure problem
    REQUEST = "request"
    PERMISSION_CHANGE = "permission_change"
    DEVICE_ORDER = "device_order"
    COMPLAINT = "complaint"
    QUOTE = "quote"
    PROJECT = "project"


# Special requests wait for the customer's authorised person before anything is done.
CATEGORIES_NEEDING_APPROVAL = {Category.PERMISSION_CHANGE, Category.DEVICE_ORDER}


class Status(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    WAITING_CUSTOMER = "waiting_customer"
    WAITING_APPROVAL = "waiting_approval"
    RESOLVED = "resolved"
    CLOSED = "closed"


OPEN_STATUSES = {
    Status.NEW, Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.WAITING_CUSTOMER, Status.WAITING_APPROVAL
}
# The SLA clock stops while the customer owes us something.
PAUSED_STATUSES = {Status.WAITING_CUSTOMER}


class Priority(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class Level(StrEnum):
    L1 = "L1"
    L2 = "L2"
    L3 = "L3"
    ONSITE = "onsite"


LEVEL_ORDER = [Level.L1, Level.L2, Level.L3, Level.ONSITE]


class TicketCounter(Base):
    """Ticket number allocation on databases without sequences (SQLite)."""

    __tablename__ = "ticket_counters"

    name: Mapped[str] = mapped_column(String(30), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_status_company", "status", "company_id"),
        Index("ix_tickets_response_minutes_todo", "id",
              postgresql_where=text("responded_at IS NOT NULL AND response_minutes IS NULL"),
              sqlite_where=text("responded_at IS NOT NULL AND response_minutes IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    subject: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str] = mapped_column(String(10))
    category: Mapped[str] = mapped_column(String(30), index=True)
    priority: Mapped[str] = mapped_column(String(10), default=Priority.NORMAL)
    status: Mapped[str] = mapped_column(String(20), default=Status.NEW)
    level: Mapped[str] = mapped_column(String(8), default=Level.L1)

    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"), index=True)
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id"))
    reporter_contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    # Copied at reporting time: the archive must show who they were then, not who they are now.
    reporter_name: Mapped[str | None] = mapped_column(String(200))
    reporter_role: Mapped[str | None] = mapped_column(String(100))
    reporter_email: Mapped[str | None] = mapped_column(String(254))
    reporter_phone: Mapped[str | None] = mapped_column(String(20))
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id"), index=True)
    location: Mapped[str | None] = mapped_column(String(200))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), index=True)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # SLA response clock (start of remote troubleshooting); it restarts when a ticket is reopened.
    sla_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_response_minutes: Mapped[int | None] = mapped_column(Integer)
    sla_clock: Mapped[str | None] = mapped_column(String(10))
    response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    sla_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    # Working minutes from sla_started_at to responded_at (pauses excluded), kept by `sla` for reports, and
    # what they were counted against (`sla.response_basis`: contract, clock, calendar): stale once that changes.
    response_minutes: Mapped[float | None] = mapped_column(Float)
    response_minutes_basis: Mapped[int | None] = mapped_column(BigInteger)
    # Outcome when resolved: solved, project, sales, refused ...
    resolution: Mapped[str | None] = mapped_column(String(30))

    company: Mapped[Company | None] = relationship()
    contract: Mapped[Contract | None] = relationship()
    reporter: Mapped[Contact | None] = relationship()
    asset: Mapped[Asset | None] = relationship()
    assignee: Mapped[StaffUser | None] = relationship()
    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", cascade="all, delete-orphan"
    )
    time_entries: Mapped[list[TimeEntry]] = relationship(
        back_populates="ticket", order_by="TimeEntry.id", cascade="all, delete-orphan"
    )
    approvals: Mapped[list[Approval]] = relationship(
        back_populates="ticket", order_by="Approval.id", cascade="all, delete-orphan"
    )

    @property
    def display_number(self) -> str:
        return f"#{self.number}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class TicketEvent(Base):
    """Append-only life cycle: every change, who made it and when, so it can be replayed."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(20))  # created, status, assigned, level, updated, note, ...
    actor_kind: Mapped[str] = mapped_column(String(10), default="system")  # staff, contact, system
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_name: Mapped[str | None] = mapped_column(String(200))
    # {"field": [old, new]}
    changes: Mapped[dict] = mapped_column(JSON, default=dict)
    body: Mapped[str | None] = mapped_column(Text)
    # Shown to the customer (and mailed) or internal only.
    public: Mapped[bool] = mapped_column(Boolean, default=True)

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class TimeEntry(Base):
    """Work time in 0.25 h units, rounded up; a quick phone answer may be exempt."""

    __tablename__ = "time_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    minutes_worked: Mapped[int] = mapped_column(Integer)
    billable_hours: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    quick_phone_answer: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)

    ticket: Mapped[Ticket] = relationship(back_populates="time_entries")


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"


class Approval(Base):
    """A special request's authorisation: who was asked, who decided, when, and the evidence."""

    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # permission_change, device_order, spare_part
    status: Mapped[str] = mapped_column(String(10), default=ApprovalStatus.PENDING)
    summary: Mapped[str] = mapped_column(Text, default="")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    requested_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    # The customer's authorised person, or (spare parts) a manager of ours.
    approver_contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    approver_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_name: Mapped[str | None] = mapped_column(String(200))
    decision_channel: Mapped[str | None] = mapped_column(String(10))  # email, web, api
    evidence: Mapped[str | None] = mapped_column(Text)  # e.g. the Message-ID and text of the written reply

    ticket: Mapped[Ticket] = relationship(back_populates="approvals")
    approver_contact: Mapped[Contact | None] = relationship()
    approver_staff: Mapped[StaffUser | None] = relationship(foreign_keys=[approver_staff_id])


class TicketLink(Base):
    __tablename__ = "ticket_links"
    __table_args__ = (UniqueConstraint("from_ticket_id", "to_ticket_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    from_ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    to_ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="related")  # related, project, follow_up, duplicate
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    from_ticket: Mapped[Ticket] = relationship(foreign_keys=[from_ticket_id])
    to_ticket: Mapped[Ticket] = relationship(foreign_keys=[to_ticket_id])


# PostgreSQL allocates ticket numbers from this sequence so concurrent creators never collide;
# SQLite (one writer at a time) uses TicketCounter instead.
TICKET_NUMBER_SEQUENCE = "ticket_number_seq"
