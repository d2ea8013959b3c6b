"""Customers: companies, their contracts and SLA targets, contacts and assets."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow


class Package(StrEnum):
    BUSINESS_HOURS = "business_hours"
    STANDBY_24_7 = "standby_24_7"


class ClockKind(StrEnum):
    WORKING = "working"      # counted in the contract's working hours
    CALENDAR = "calendar"    # counted in clock hours, around the clock


class Company(Base):
    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    mail_domain: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    contracts: Mapped[list[Contract]] = relationship(back_populates="company", order_by="Contract.id")
    contacts: Mapped[list[Contact]] = relationship(back_populates="company", order_by="Contact.name")
    assets: Mapped[list[Asset]] = relationship(back_populates="company", order_by="Asset.identifier")


class Contract(Base):
    __tablename__ = "contracts"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    package: Mapped[str] = mapped_column(String(20), default=Package.BUSINESS_HOURS)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Budapest")
    # {"mon": ["08:00-17:00"], ...}; a missing day is closed.
    working_hours: Mapped[dict] = mapped_column(JSON, default=dict)
    holiday_country: Mapped[str | None] = mapped_column(String(2))
    extra_working_days: Mapped[list] = mapped_column(JSON, default=list)
    days_off: Mapped[list] = mapped_column(JSON, default=list)
    no_answer_threshold_seconds: Mapped[int] = mapped_column(Integer, default=600)
    # 24/7 customers: page for every critical fault, not only out of hours.
    page_critical_always: Mapped[bool] = mapped_column(Boolean, default=False)
    # Acknowledged but no progress on the ticket for this long: the alert pages again (None: never).
    ack_timeout_minutes: Mapped[int | None] = mapped_column(Integer)
    recording_retention_days: Mapped[int] = mapped_column(Integer, default=90)
    # Only agents of this team answer the customer's calls (None: any agent).
    agent_team: Mapped[str | None] = mapped_column(String(40))
    # Complaint calls are kept longer: the complaint may be investigated or disputed later.
    complaint_recording_retention_days: Mapped[int] = mapped_column(Integer, default=365, server_default="365")
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)

    company: Mapped[Company] = relationship(back_populates="contracts")
    sla_targets: Mapped[list[SlaTarget]] = relationship(
        back_populates="contract", cascade="all, delete-orphan", order_by="SlaTarget.category"
    )

    def is_valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    @property
    def is_standby(self) -> bool:
        return self.package == Package.STANDBY_24_7


class SlaTarget(Base):
    """Response target (start of remote troubleshooting) for one ticket category."""

    __tablename__ = "sla_targets"
    __table_args__ = (UniqueConstraint("contract_id", "category"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"))
    category: Mapped[str] = mapped_column(String(30))
    response_minutes: Mapped[int] = mapped_column(Integer)
    clock: Mapped[str] = mapped_column(String(10), default=ClockKind.WORKING)
    # Pre-breach warning at this share of the target (paging consumes it).
    warn_percent: Mapped[int] = mapped_column(Integer, default=75)

    contract: Mapped[Contract] = relationship(back_populates="sla_targets")


class Contact(Base):
    """A person at a customer company: who may call, write and authorise."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    phone: Mapped[str | None] = mapped_column(String(20), index=True)   # E.164
    mobile: Mapped[str | None] = mapped_column(String(20), index=True)  # E.164
    language: Mapped[str] = mapped_column(String(5), default="en")
    role: Mapped[str | None] = mapped_column(String(100))  # job title / kind of user, e.g. "IT manager"
    # Communication level: I technical staff, II coordinator, III end user reported through the desk.
    level: Mapped[str] = mapped_column(String(12), default="technical")
    can_authorize: Mapped[bool] = mapped_column(Boolean, default=False)
    location: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(256))  # customer portal login, optional
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # see StaffUser

    company: Mapped[Company] = relationship(back_populates="contacts")


class Asset(Base):
    """A customer's machine (PBX, server, router): identity, model, composition, location."""

    __tablename__ = "assets"
    __table_args__ = (UniqueConstraint("company_id", "identifier"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    identifier: Mapped[str] = mapped_column(String(100))  # serial number or inventory id
    kind: Mapped[str] = mapped_column(String(30), default="pbx")
    model: Mapped[str | None] = mapped_column(String(200))
    composition: Mapped[dict] = mapped_column(JSON, default=dict)  # cards, licences, firmware
    location: Mapped[str | None] = mapped_column(String(200))
    # Calls from these numbers are attributed to this machine (e.g. the PBX's own trunk number).
    phone_numbers: Mapped[list] = mapped_column(JSON, default=list)
    installed_on: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)

    company: Mapped[Company] = relationship(back_populates="assets")


class DirectoryVersion(Base):
    """One row counting changes to companies, contracts, contacts and assets (see directory.py)."""

    __tablename__ = "directory_version"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
