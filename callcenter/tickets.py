"""Ticket service: create, change, escalate, approve, link and log time on tickets.

Every change goes through here so that each one leaves a TicketEvent (who, when, what changed)
and publishes a domain event that mail and paging react to in the same transaction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from . import events
from . import search as _search  # noqa: F401  (keeps the full-text index current at each commit)
from .customers import contract_at
from .models import (
    CATEGORIES_NEEDING_APPROVAL,
    LEVEL_ORDER,
    Approval,
    ApprovalStatus,
    Asset,
    Category,
    Channel,
    Company,
    Contact,
    Level,
    Priority,
    StaffUser,
    Status,
    Ticket,
    TicketCounter,
    TicketEvent,
    TicketLink,
    TimeEntry,
)
from .models.ticket import TICKET_NUMBER_SEQUENCE
from .sla import refresh_ticket_sla
from .text import InvalidAddress, email_address
from .validation import MAX_DB_INT

MAX_SUBJECT = 300
MAX_TEXT = 100_000


class TicketError(ValueError):
    """A request the ticket rules refuse; the message says why."""


class TicketNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Actor:
    kind: str = "system"   # staff, contact, system
    id: int | None = None
    name: str = "system"

    @classmethod
    def staff(cls, user: StaffUser) -> Actor:
        return cls("staff", user.id, user.name)

    @classmethod
    def contact(cls, contact: Contact) -> Actor:
        return cls("contact", contact.id, contact.name)


SYSTEM = Actor()

# Allowed status transitions; reopening is its own operation (reopen()).
TRANSITIONS: dict[str, set[str]] = {
    Status.NEW: {Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.WAITING_CUSTOMER, Status.WAITING_APPROVAL,
                 Status.RESOLVED},
    Status.ACKNOWLEDGED: {Status.IN_PROGRESS, Status.WAITING_CUSTOMER, Status.WAITING_APPROVAL, Status.RESOLVED},
    Status.IN_PROGRESS: {Status.WAITING_CUSTOMER, Status.WAITING_APPROVAL, Status.RESOLVED, Status.ACKNOWLEDGED},
    Status.WAITING_CUSTOMER: {Status.IN_PROGRESS, Status.ACKNOWLEDGED, Status.RESOLVED},
    Status.WAITING_APPROVAL: {Status.IN_PROGRESS, Status.ACKNOWLEDGED, Status.RESOLVED},
    Status.RESOLVED: {Status.CLOSED},
    Status.CLOSED: set(),
}


def _check_choice(value: str, choices: type, what: str) -> str:
    allowed = [c.value for c in choices]
    if value not in allowed:
        raise TicketError(f"unknown {what} {value!r}; expected one of {', '.join(allowed)}")
    return value


# Built once and run as Core on the session's connection: every new ticket runs one of them, and the
# ORM's update machinery (no TicketCounter object is ever loaded to synchronise) cost more than the SQL.
_NEXT_PG = text(f"SELECT nextval('{TICKET_NUMBER_SEQUENCE}')")
_counters = TicketCounter.__table__
_NEXT_SQLITE = (update(_counters).where(_counters.c.name == "ticket")
                .values(value=_counters.c.value + 1).returning(_counters.c.value))


def allocate_number(session: Session, start: int) -> int:
    """Next ticket number; unique under concurrency (sequence on PostgreSQL, row lock on SQLite)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        value = connection.execute(_NEXT_PG).scalar_one()
    else:
        value = connection.execute(_NEXT_SQLITE).scalar()
        if value is None:
            counter = TicketCounter(name="ticket", value=1)
            session.add(counter)
            session.flush([counter])  # only the counter: the caller's other changes wait for its own flush
            value = 1
    return start + int(value) - 1


def _record(session: Session, ticket: Ticket, kind: str, actor: Actor, now: datetime,
            changes: dict | None = None, body: str | None = None, public: bool = True,
            flush: bool = True) -> TicketEvent:
    event = TicketEvent(ticket=ticket, at=now, kind=kind, actor_kind=actor.kind, actor_id=actor.id,
                        actor_name=actor.name, changes=changes or {}, body=body, public=public)
    session.add(event)
    ticket.updated_at = now
    if flush:
        session.flush()
    return event


def record_change(session: Session, ticket: Ticket, kind: str, actor: Actor, now: datetime,
                  changes: dict | None = None, body: str | None = None, public: bool = True) -> TicketEvent:
    """Record a change made outside this module's operations (its event, and the domain event mail reacts to)."""
    return _changed(session, ticket, kind, actor, now, changes, body, public)


def _changed(session: Session, ticket: Ticket, kind: str, actor: Actor, now: datetime,
             changes: dict | None = None, body: str | None = None, public: bool = True) -> TicketEvent:
    event = _record(session, ticket, kind, actor, now, changes, body, public)
    events.publish(session, events.TicketChanged(ticket.id, event.id, kind, changes or {}, body, public, now))
    return event


@dataclass
class NewTicket:
    subject: str
    channel: str
    category: str
    description: str = ""
    company_id: int | None = None
    reporter_contact_id: int | None = None
    reporter_name: str | None = None
    reporter_role: str | None = None
    reporter_email: str | None = None
    reporter_phone: str | None = None
    asset_id: int | None = None
    location: str | None = None
    priority: str | None = None
    level: str = Level.L1
    assignee_id: int | None = None
    extra_event_body: str | None = None
    tags: dict = field(default_factory=dict)


def create_ticket(session: Session, new: NewTicket, *, actor: Actor = SYSTEM, now: datetime,
                  number_start: int = 15000, new_rows_only: bool = False) -> Ticket:
    """Open a ticket: number, reporter snapshot, contract and SLA clock, first event.

    `new_rows_only`: its flush writes the new rows alone (the ticket, its event) and leaves the session's
    changed rows for the caller's next flush: a caller that changes a locked row around it (a call's turn)
    then writes that row once instead of once per flush."""
    subject = (new.subject or "").strip()
    if not subject:
        raise TicketError("subject is required")
    if len(subject) > MAX_SUBJECT:
        raise TicketError(f"subject longer than {MAX_SUBJECT} characters")
    if len(new.description or "") > MAX_TEXT:
        raise TicketError(f"description longer than {MAX_TEXT} characters")
    _check_choice(new.channel, Channel, "channel")
    _check_choice(new.category, Category, "category")
    _check_choice(new.level, Level, "level")
    if new.reporter_email is not None:
        try:  # mails about the ticket go to it: exactly one address (not "a@x.example, b@y.example")
            new.reporter_email = email_address(new.reporter_email)
        except InvalidAddress as exc:
            raise TicketError(f"reporter e-mail: {exc}") from None

    reporter = session.get(Contact, new.reporter_contact_id) if new.reporter_contact_id else None
    if new.reporter_contact_id and reporter is None:
        raise TicketError(f"unknown contact {new.reporter_contact_id}")
    company_id = new.company_id or (reporter.company_id if reporter else None)
    company = session.get(Company, company_id) if company_id else None
    if company_id and company is None:
        raise TicketError(f"unknown company {company_id}")
    if reporter and company and reporter.company_id != company.id:
        raise TicketError("the reporter does not belong to that company")
    asset = session.get(Asset, new.asset_id) if new.asset_id else None
    if new.asset_id and (asset is None or (company and asset.company_id != company.id)):
        raise TicketError(f"unknown asset {new.asset_id} for this company")
    if new.assignee_id and session.get(StaffUser, new.assignee_id) is None:
        raise TicketError(f"unknown staff user {new.assignee_id}")

    priority = new.priority or (Priority.HIGH if new.category == Category.COMPLAINT else Priority.NORMAL)
    _check_choice(priority, Priority, "priority")
    contract = contract_at(company, now)

    ticket = Ticket(
        number=allocate_number(session, number_start),
        subject=subject,
        description=new.description or "",
        channel=new.channel,
        category=new.category,
        priority=priority,
        status=Status.NEW,
        level=new.level,
        company=company,
        contract=contract,
        reporter=reporter,
        reporter_name=new.reporter_name or (reporter.name if reporter else None),
        reporter_role=new.reporter_role or (reporter.role if reporter else None),
        reporter_email=new.reporter_email or (reporter.email if reporter else None),
        reporter_phone=new.reporter_phone or (reporter.phone or reporter.mobile if reporter else None),
        asset=asset,
        location=new.location or (asset.location if asset else None) or (reporter.location if reporter else None),
        assignee_id=new.assignee_id,
        created_at=now,
        updated_at=now,
        sla_started_at=now,
    )
    # The deadline goes into the INSERT itself, and the ticket and its first event are written in
    # one flush: one round of the unit of work instead of three on this hot path.
    refresh_ticket_sla(session, ticket, now, pauses=[])
    session.add(ticket)
    _record(session, ticket, "created", actor, now, changes={
        "status": [None, Status.NEW], "category": [None, ticket.category], "priority": [None, priority],
        "channel": [None, ticket.channel], "level": [None, ticket.level],
    }, body=new.extra_event_body or ticket.description, flush=not new_rows_only)
    if new_rows_only:
        session.flush(list(session.new))
    events.publish(session, events.TicketCreated(ticket.id, now))
    if ticket.category in CATEGORIES_NEEDING_APPROVAL:
        approver = authorised_contact(session, ticket.company_id)
        request_approval(session, ticket, kind=ticket.category, summary=ticket.subject,
                         approver_contact_id=approver.id if approver else None, actor=SYSTEM, now=now)
    return ticket


def authorised_contact(session: Session, company_id: int | None) -> Contact | None:
    if company_id is None:
        return None
    return session.scalar(
        select(Contact).where(Contact.company_id == company_id, Contact.can_authorize.is_(True),
                              Contact.active.is_(True)).order_by(Contact.id).limit(1)
    )


def get_ticket(session: Session, number: int | str) -> Ticket:
    raw = str(number).strip().lstrip("#")
    # ASCII digits within the column's range: "²" passes isdigit(), 10**20 passes int() but not the database.
    if not raw.isascii() or not raw.isdigit() or int(raw) > MAX_DB_INT:
        raise TicketNotFound(f"no ticket {str(number)[:40]}")
    ticket = session.scalar(select(Ticket).where(Ticket.number == int(raw)))
    if ticket is None:
        raise TicketNotFound(f"no ticket #{raw}")
    return ticket


def change_status(session: Session, ticket: Ticket, new_status: str, *, actor: Actor, now: datetime,
                  note: str | None = None, resolution: str | None = None) -> TicketEvent:
    _check_choice(new_status, Status, "status")
    old = ticket.status
    if new_status == old:
        raise TicketError(f"ticket is already {old}")
    if new_status not in TRANSITIONS[old]:
        raise TicketError(f"cannot go from {old} to {new_status}")
    if new_status in {Status.IN_PROGRESS, Status.ACKNOWLEDGED} and _pending_approval(ticket):
        raise TicketError("a special request cannot proceed before its approval is decided")
    ticket.status = new_status
    changes: dict = {"status": [old, new_status]}
    if new_status == Status.IN_PROGRESS and ticket.responded_at is None:
        # Start of remote troubleshooting: this is what the response SLA measures.
        ticket.responded_at = now
        changes["responded_at"] = [None, now.isoformat()]
    if new_status == Status.RESOLVED:
        ticket.resolved_at = now
        ticket.resolution = resolution or "solved"
        changes["resolution"] = [None, ticket.resolution]
    if new_status == Status.CLOSED:
        ticket.closed_at = now
    event = _record(session, ticket, "status", actor, now, changes, note)
    refresh_ticket_sla(session, ticket, now)
    events.publish(session, events.TicketChanged(ticket.id, event.id, "status", changes, note, True, now))
    return event


def _pending_approval(ticket: Ticket) -> bool:
    return any(a.status == ApprovalStatus.PENDING for a in ticket.approvals)


def start_work(session: Session, ticket: Ticket, *, actor: Actor, now: datetime, note: str | None = None) -> None:
    if ticket.status == Status.NEW:
        change_status(session, ticket, Status.ACKNOWLEDGED, actor=actor, now=now)
    change_status(session, ticket, Status.IN_PROGRESS, actor=actor, now=now, note=note)


def reopen(session: Session, ticket: Ticket, *, actor: Actor, now: datetime, note: str | None = None) -> TicketEvent:
    if ticket.status not in {Status.RESOLVED, Status.CLOSED}:
        raise TicketError("only resolved or closed tickets can be reopened")
    old = ticket.status
    ticket.status = Status.NEW
    ticket.reopen_count += 1
    ticket.resolved_at = ticket.closed_at = None
    ticket.resolution = None
    # A reopened ticket gets a fresh response clock.
    ticket.responded_at = None
    ticket.response_breached = False
    ticket.sla_started_at = now
    changes = {"status": [old, Status.NEW], "reopened": [ticket.reopen_count - 1, ticket.reopen_count]}
    event = _record(session, ticket, "status", actor, now, changes, note)
    refresh_ticket_sla(session, ticket, now)
    events.publish(session, events.TicketChanged(ticket.id, event.id, "reopened", changes, note, True, now))
    return event


def assign(session: Session, ticket: Ticket, staff_id: int | None, *, actor: Actor, now: datetime,
           note: str | None = None) -> TicketEvent:
    user = session.get(StaffUser, staff_id) if staff_id else None
    if staff_id and (user is None or not user.active):
        raise TicketError(f"unknown or inactive staff user {staff_id}")
    old = ticket.assignee.name if ticket.assignee else None
    ticket.assignee = user
    # Who works a ticket is how we organise ourselves: internal, never mailed (customer_portal).
    return _changed(session, ticket, "assigned", actor, now, {"assignee": [old, user.name if user else None]}, note,
                    public=False)


def escalate(session: Session, ticket: Ticket, to_level: str, *, actor: Actor, now: datetime,
             reason: str | None = None, assignee_id: int | None = None) -> TicketEvent:
    """Move the ticket between L1, L2, L3 and the on-site team (either direction, with a reason)."""
    _check_choice(to_level, Level, "level")
    if to_level == ticket.level:
        raise TicketError(f"ticket is already at {to_level}")
    if not ticket.is_open:
        raise TicketError("a resolved or closed ticket cannot be escalated")
    if to_level == Level.ONSITE and any(
        a.kind == "spare_part" and a.status != ApprovalStatus.APPROVED for a in ticket.approvals
    ):
        raise TicketError("the spare part needs a manager's approval before the on-site visit is routed")
    old = ticket.level
    ticket.level = to_level
    changes: dict = {"level": [old, to_level]}
    if assignee_id is not None:
        user = session.get(StaffUser, assignee_id)
        if user is None:
            raise TicketError(f"unknown staff user {assignee_id}")
        changes["assignee"] = [ticket.assignee.name if ticket.assignee else None, user.name]
        ticket.assignee = user
    kind = "escalated" if LEVEL_ORDER.index(Level(to_level)) > LEVEL_ORDER.index(Level(old)) else "de-escalated"
    # The reason is written for colleagues (it was once mailed to a customer): the event is internal.
    return _changed(session, ticket, kind, actor, now, changes, reason, public=False)


UPDATABLE = {"subject", "description", "priority", "category", "asset_id", "location"}


def update_fields(session: Session, ticket: Ticket, values: dict, *, actor: Actor, now: datetime,
                  note: str | None = None) -> TicketEvent | None:
    unknown = set(values) - UPDATABLE
    if unknown:
        raise TicketError(f"cannot update {', '.join(sorted(unknown))}")
    changes = {}
    for name, value in values.items():
        if name == "priority":
            _check_choice(value, Priority, "priority")
        if name == "category":
            _check_choice(value, Category, "category")
        if name == "subject" and (not value or len(value) > MAX_SUBJECT):
            raise TicketError(f"subject must be 1 to {MAX_SUBJECT} characters")
        if name == "asset_id" and value is not None:
            asset = session.get(Asset, value)
            if asset is None or asset.company_id != ticket.company_id:
                raise TicketError(f"unknown asset {value} for this company")
        old = getattr(ticket, name)
        if old != value:
            setattr(ticket, name, value)
            changes[name] = [old, value]
    if not changes:
        return None
    # The customer hears of a changed subject, priority or category; machine and location are ours.
    event = _changed(session, ticket, "updated", actor, now, changes, note,
                     public=bool(changes.keys() & {"subject", "priority", "category"}))
    if "category" in changes:
        refresh_ticket_sla(session, ticket, now)
    return event


def add_note(session: Session, ticket: Ticket, body: str, *, actor: Actor, now: datetime,
             public: bool = False, kind: str = "note") -> TicketEvent:
    if not body or not body.strip():
        raise TicketError("an empty note")
    if len(body) > MAX_TEXT:
        raise TicketError(f"note longer than {MAX_TEXT} characters")
    return _changed(session, ticket, kind, actor, now, {}, body, public)


def billable_hours(minutes: int, quick_phone_answer: bool = False) -> Decimal:
    """Work time in 0.25 h units, rounded up; a quick phone answer is exempt."""
    if minutes <= 0:
        raise TicketError("minutes worked must be positive")
    if quick_phone_answer:
        return Decimal("0.00")
    return Decimal(math.ceil(minutes / 15)) * Decimal("0.25")


def log_time(session: Session, ticket: Ticket, minutes: int, *, actor: Actor, now: datetime,
             quick_phone_answer: bool = False, note: str | None = None) -> TimeEntry:
    hours = billable_hours(minutes, quick_phone_answer)
    entry = TimeEntry(ticket=ticket, staff_id=actor.id if actor.kind == "staff" else None, at=now,
                      minutes_worked=minutes, billable_hours=hours, quick_phone_answer=quick_phone_answer,
                      note=note)
    session.add(entry)
    _record(session, ticket, "time", actor, now,
            {"time": [None, f"{minutes} min = {hours} h" + (" (quick phone answer)" if quick_phone_answer else "")]},
            note, public=False)
    return entry


def request_approval(session: Session, ticket: Ticket, *, kind: str, summary: str, actor: Actor, now: datetime,
                     approver_contact_id: int | None = None, approver_staff_id: int | None = None) -> Approval:
    """Put a special request (permission change, device order, spare part) on hold until decided."""
    if kind not in {"permission_change", "device_order", "spare_part"}:
        raise TicketError(f"unknown approval kind {kind!r}")
    # Every named approver is checked, whatever the kind: an unknown id must be a clear refusal,
    # never a foreign-key failure at flush.
    manager = session.get(StaffUser, approver_staff_id) if approver_staff_id is not None else None
    if approver_staff_id is not None and (manager is None or manager.role not in {"manager", "admin"}):
        raise TicketError("the approving staff member must be a manager")
    if kind == "spare_part" and manager is None:
        raise TicketError("a spare part is approved by a manager")
    if approver_contact_id is not None:
        contact = session.get(Contact, approver_contact_id)
        if contact is None or contact.company_id != ticket.company_id or not contact.can_authorize:
            raise TicketError("the approver must be an authorised contact of the ticket's company")
    approval = Approval(ticket=ticket, kind=kind, summary=summary, requested_at=now,
                        requested_by_staff_id=actor.id if actor.kind == "staff" else None,
                        approver_contact_id=approver_contact_id, approver_staff_id=approver_staff_id)
    session.add(approval)
    session.flush()
    if ticket.status != Status.WAITING_APPROVAL and Status.WAITING_APPROVAL in TRANSITIONS[ticket.status]:
        old = ticket.status
        ticket.status = Status.WAITING_APPROVAL
        _record(session, ticket, "status", actor, now, {"status": [old, Status.WAITING_APPROVAL]})
    _changed(session, ticket, "approval", actor, now, {"approval": [None, f"{kind} requested"]}, summary,
             public=kind != "spare_part")
    events.publish(session, events.ApprovalRequested(approval.id, ticket.id, now))
    return approval


def link_tickets(session: Session, a: Ticket, b: Ticket, *, kind: str = "related", actor: Actor,
                 now: datetime) -> TicketLink:
    if a.id == b.id:
        raise TicketError("a ticket cannot be linked to itself")
    existing = session.scalar(select(TicketLink).where(
        TicketLink.from_ticket_id == a.id, TicketLink.to_ticket_id == b.id, TicketLink.kind == kind))
    if existing:
        return existing
    link = TicketLink(from_ticket=a, to_ticket=b, kind=kind, created_at=now)
    session.add(link)
    _changed(session, a, "linked", actor, now, {"link": [None, f"{kind} {b.display_number}"]}, public=False)
    _record(session, b, "linked", actor, now, {"link": [None, f"{kind} {a.display_number}"]}, public=False)
    return link


def turn_into_project(session: Session, ticket: Ticket, *, actor: Actor, now: datetime, close: bool,
                      number_start: int = 15000, subject: str | None = None) -> Ticket:
    """Outcome 'project': open a project ticket linked to this one, and close this one or keep it linked."""
    project = create_ticket(session, NewTicket(
        subject=subject or f"Project: {ticket.subject}", channel=Channel.WEB, category=Category.PROJECT,
        description=f"Started from {ticket.display_number}.\n\n{ticket.description}",
        company_id=ticket.company_id, reporter_contact_id=ticket.reporter_contact_id, asset_id=ticket.asset_id,
    ), actor=actor, now=now, number_start=number_start)
    link_tickets(session, ticket, project, kind="project", actor=actor, now=now)
    if close and ticket.is_open:
        change_status(session, ticket, Status.RESOLVED, actor=actor, now=now, resolution="project",
                      note=f"Continued as project {project.display_number}.")
    return project


def linked_tickets(session: Session, ticket: Ticket) -> list[tuple[str, Ticket]]:
    out = [(link.kind, link.to_ticket) for link in
           session.scalars(select(TicketLink).where(TicketLink.from_ticket_id == ticket.id))]
    out += [(link.kind, link.from_ticket) for link in
            session.scalars(select(TicketLink).where(TicketLink.to_ticket_id == ticket.id))]
    return out


# Finding tickets lives in ticket_queries; these names stay importable from here.
from .ticket_queries import (  # noqa: E402, F401
    TicketFilter,
    filtered_query,
    list_tickets,
    queue_order,
    work_queue,
)
