"""Request and response bodies of the JSON API (pydantic: validation and the OpenAPI schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..models import Category, Channel, Level, Priority, Status
from ..validation import DbId

CategoryName = Literal[tuple(c.value for c in Category)]  # type: ignore[valid-type]
ChannelName = Literal[tuple(c.value for c in Channel)]  # type: ignore[valid-type]
PriorityName = Literal[tuple(p.value for p in Priority)]  # type: ignore[valid-type]
StatusName = Literal[tuple(s.value for s in Status)]  # type: ignore[valid-type]
LevelName = Literal[tuple(level.value for level in Level)]  # type: ignore[valid-type]


def _no_null_defaults(schema: dict) -> None:
    """`default=None` on a field that is not nullable means "not given": the document must not offer null."""
    for prop in schema.get("properties", {}).values():
        if "default" in prop and prop["default"] is None and "anyOf" not in prop:
            del prop["default"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_no_null_defaults)


class TicketCreate(Strict):
    subject: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=100_000)
    category: CategoryName
    channel: ChannelName = "api"
    company_id: DbId | None = None
    company: str | None = Field(default=None, max_length=200, description="company name, instead of company_id")
    reporter_contact_id: DbId | None = None
    reporter_email: str | None = Field(default=None, max_length=254,
                                       description="finds the contact (and company) by e-mail address")
    reporter_name: str | None = Field(default=None, max_length=200)
    reporter_role: str | None = Field(default=None, max_length=100)
    reporter_phone: str | None = Field(default=None, max_length=20)
    asset_id: DbId | None = None
    location: str | None = Field(default=None, max_length=200)
    priority: PriorityName | None = None
    level: LevelName = "L1"
    assignee_id: DbId | None = None


class TicketUpdate(Strict):
    """Fields left out stay as they are; `null` is accepted only where the ticket may hold no value."""

    # Not nullable: the default only means "not given" (null is refused, as the columns refuse it).
    status: StatusName = Field(default=None)
    reopen: bool = False
    note: str | None = Field(default=None, max_length=100_000,
                             description="the text the customer's mail carries; with a level change, "
                                         "the internal reason for it (never mailed)")
    resolution: str | None = Field(default=None, max_length=30)
    assignee_id: DbId = Field(default=None, description="assign to this staff user (unassign: true to clear)")
    unassign: bool = False
    level: LevelName = Field(default=None)
    priority: PriorityName = Field(default=None)
    category: CategoryName = Field(default=None)
    subject: str = Field(default=None, min_length=1, max_length=300)
    description: str = Field(default=None, max_length=100_000)
    asset_id: DbId | None = None
    location: str | None = Field(default=None, max_length=200)


class NoteCreate(Strict):
    body: str = Field(min_length=1, max_length=100_000)
    public: bool = False


class TimeCreate(Strict):
    minutes: int = Field(gt=0, le=24 * 60)
    quick_phone_answer: bool = False
    note: str | None = Field(default=None, max_length=10_000)


class LinkCreate(Strict):
    ticket: DbId = Field(description="number of the other ticket")
    kind: Literal["related", "project", "follow_up", "duplicate"] = "related"


class ApprovalCreate(Strict):
    kind: Literal["permission_change", "device_order", "spare_part"]
    summary: str = Field(min_length=1, max_length=10_000)
    approver_contact_id: DbId | None = None
    approver_staff_id: DbId | None = None


class ApprovalDecision(Strict):
    approved: bool
    evidence: str = Field(min_length=1, max_length=100_000)
    decided_by_contact_id: DbId | None = None


class SlaOut(BaseModel):
    due_at: datetime | None
    remaining_minutes: float | None
    breached: bool
    paused: bool
    responded_at: datetime | None
    target_minutes: int | None
    clock: str | None


class TicketOut(BaseModel):
    number: int
    display_number: str
    subject: str
    description: str
    channel: str
    category: str
    priority: str
    status: str
    level: str
    company_id: int | None
    company: str | None
    reporter_contact_id: int | None
    reporter_name: str | None
    reporter_role: str | None
    reporter_email: str | None
    reporter_phone: str | None
    asset_id: int | None
    location: str | None
    assignee_id: int | None
    assignee: str | None
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    resolution: str | None
    sla: SlaOut


class EventOut(BaseModel):
    id: int
    at: datetime
    kind: str
    actor_kind: str
    actor_name: str | None
    changes: dict
    body: str | None
    public: bool


class TicketPage(BaseModel):
    items: list[TicketOut]
    total: int
    page: int
    per_page: int


class ErrorOut(BaseModel):
    error: str
    details: list | None = None
