"""The customer's side of the help desk: what they may see of their tickets (one rule for the portal and
for every mail we send them), and what they do there (reply with files, decide approvals).

Staff organise the work in internal events (assignments, levels, escalation reasons, time, links,
internal notes); the customer sees public events only, and of their changes only the fields in
`CUSTOMER_FIELDS`. Approvals are shown from their own rows (the customer's decision, not our
bookkeeping), calls from the call log without agents' names or internal outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import approvals, tickets
from .attachments import Upload, attach
from .models import (
    OPEN_STATUSES,
    Approval,
    ApprovalStatus,
    Call,
    CallOutcome,
    Contact,
    Status,
    Ticket,
    TicketAttachment,
    TicketEvent,
)

# Changes a customer is told about (mail and portal); everything else is how we organise the work.
CUSTOMER_FIELDS = ("status", "resolution", "category", "priority", "subject")
# Public events the customer sees in the portal's conversation.
# ("email" and "comment" are the customer's own messages by mail and in the portal.)
CONVERSATION_KINDS = frozenset({"created", "note", "comment", "email", "status", "reopened", "updated"})
# Approvals the customer's authorised person decides (spare parts are our managers' business).
CUSTOMER_APPROVAL_KINDS = frozenset({"permission_change", "device_order"})


def visible_changes(changes: dict | None) -> dict:
    """The part of an event's {field: [old, new]} that a customer may read."""
    return {name: value for name, value in (changes or {}).items() if name in CUSTOMER_FIELDS}


def customer_sees(event: TicketEvent) -> bool:
    """One rule for the portal and mail: a public event with something the customer may read."""
    if not event.public or event.kind not in CONVERSATION_KINDS:
        return False
    return bool((event.body or "").strip()) or bool(visible_changes(event.changes))


@dataclass
class Entry:
    """One item of the customer's conversation: a message and/or what changed, by whom (staff or them)."""

    at: datetime
    kind: str
    author: str
    from_customer: bool
    body: str | None
    changes: dict
    attachments: list[TicketAttachment] = field(default_factory=list)


def conversation(session: Session, ticket: Ticket) -> list[Entry]:
    """The ticket's public conversation, oldest first, with each message's attachments."""
    events = session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.public.is_(True))
                             .order_by(TicketEvent.at, TicketEvent.id)).all()
    shown = [e for e in events if customer_sees(e)]
    files: dict[int, list[TicketAttachment]] = {}
    if shown:
        for att in session.scalars(select(TicketAttachment).where(
                TicketAttachment.event_id.in_([e.id for e in shown])).order_by(TicketAttachment.id)):
            files.setdefault(att.event_id, []).append(att)
    return [Entry(at=e.at, kind=e.kind, author=e.actor_name or "", from_customer=e.actor_kind == "contact",
                  body=e.body, changes=visible_changes(e.changes), attachments=files.get(e.id, []))
            for e in shown]


def attachment_visible(session: Session, attachment: TicketAttachment, company_id: int) -> bool:
    """A customer downloads a file only from a public message of their own company's ticket."""
    ticket = session.get(Ticket, attachment.ticket_id)
    if ticket is None or ticket.company_id != company_id or attachment.event_id is None:
        return False
    event = session.get(TicketEvent, attachment.event_id)
    return event is not None and customer_sees(event)


def company_tickets(session: Session, company_id: int, *, open_only: bool = False, limit: int = 200) -> list[Ticket]:
    """The customer's tickets: open ones first, newest first."""
    stmt = select(Ticket).where(Ticket.company_id == company_id)
    if open_only:
        stmt = stmt.where(Ticket.status.in_([s.value for s in OPEN_STATUSES]))
    tickets = list(session.scalars(stmt.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit)))
    return sorted(tickets, key=lambda t: not t.is_open)


def last_public_change(session: Session, tickets: list[Ticket]) -> dict[int, datetime]:
    """When each ticket last changed in a way its customer sees: `updated_at` also moves on internal
    work (a note, an assignment, logged time), and the portal must not hint at that."""
    if not tickets:
        return {}
    rows = session.execute(
        select(TicketEvent.ticket_id, func.max(TicketEvent.at))
        .where(TicketEvent.ticket_id.in_([t.id for t in tickets]), TicketEvent.public.is_(True),
               TicketEvent.kind.in_(CONVERSATION_KINDS))
        .group_by(TicketEvent.ticket_id)).all()
    return {ticket_id: at for ticket_id, at in rows}


def pending_approvals(session: Session, contact: Contact) -> list[Approval]:
    """Requests waiting for this contact's decision: only an authorised person of the company decides."""
    if not contact.can_authorize or not contact.active:
        return []
    return list(session.scalars(
        select(Approval).join(Ticket, Ticket.id == Approval.ticket_id)
        .where(Ticket.company_id == contact.company_id, Approval.status == ApprovalStatus.PENDING,
               Approval.kind.in_(CUSTOMER_APPROVAL_KINDS))
        .order_by(Approval.requested_at, Approval.id)))


def ticket_approvals(ticket: Ticket) -> list[Approval]:
    """The ticket's approvals a customer is shown (not our internal spare-part decisions)."""
    return [a for a in ticket.approvals if a.kind in CUSTOMER_APPROVAL_KINDS]


# What a caller is told about a call: was it answered, did it leave a message, did it open a ticket.
CALL_RESULTS = {
    CallOutcome.ANSWERED: "answered", CallOutcome.CRITICAL_QUEUED: "answered",
    CallOutcome.CRITICAL_STANDBY: "standby_alerted", CallOutcome.MESSAGE: "message_left",
    CallOutcome.UNANSWERED_MESSAGE: "message_left", CallOutcome.COMPLAINT: "message_left",
    CallOutcome.TICKET_STATUS: "status_enquiry", CallOutcome.PERMISSION_REFUSED: "in_writing_only",
    CallOutcome.SALES: "passed_to_sales",
}


@dataclass(frozen=True)
class CustomerCall:
    id: int
    at: datetime
    caller: str | None
    result: str   # answered, standby_alerted, message_left, status_enquiry, in_writing_only, passed_to_sales, missed
    wait_seconds: int | None
    ticket_number: int | None


def company_calls(session: Session, company_id: int, *, limit: int = 100) -> list[CustomerCall]:
    rows = session.execute(
        select(Call, Ticket.number).outerjoin(Ticket, Ticket.id == Call.ticket_id)
        .where(Call.company_id == company_id).order_by(Call.arrived_at.desc(), Call.id.desc()).limit(limit)).all()
    out = []
    for call, number in rows:
        result = CALL_RESULTS.get(call.outcome, "missed")
        if call.outcome == CallOutcome.CRITICAL_QUEUED and call.answered_at is None:
            result = "critical_reported"
        out.append(CustomerCall(id=call.id, at=call.arrived_at, caller=call.caller_number, result=result,
                                wait_seconds=call.wait_seconds, ticket_number=number))
    return out


def reply(session: Session, ticket: Ticket, contact: Contact, body: str, uploads: list[Upload], *, now: datetime,
          max_bytes: int) -> TicketEvent:
    """The customer writes on their ticket (with files); a ticket waiting for them goes back to work."""
    if ticket.company_id != contact.company_id:
        raise tickets.TicketError("not your company's ticket")
    actor = tickets.Actor.contact(contact)
    if not (body or "").strip() and uploads:
        body = "\n".join(u.filename for u in uploads)
    event = tickets.add_note(session, ticket, body, actor=actor, now=now, public=True, kind="comment")
    attach(session, ticket, event, uploads, actor=actor, max_bytes=max_bytes)
    if ticket.status == Status.WAITING_CUSTOMER:
        # Without a first response yet, in_progress would count the reply as our response.
        target = Status.IN_PROGRESS if ticket.responded_at is not None else Status.ACKNOWLEDGED
        tickets.change_status(session, ticket, target, actor=actor, now=now)
    return event


def decide(session: Session, approval: Approval, contact: Contact, approved: bool, *, now: datetime,
           comment: str = "") -> Approval:
    """The authorised person decides in the portal, signed in as themselves: `approvals`' one rule decides
    whether they may; their session is the proof and their comment goes with the evidence."""
    if approval.kind not in CUSTOMER_APPROVAL_KINDS or approval.ticket.company_id != contact.company_id:
        raise approvals.ApprovalRefused("this request is not yours to decide")
    evidence = f"Decided in the customer portal by {contact.name} <{contact.email or '-'}>"
    if comment.strip():
        evidence += f"\n\n{comment.strip()}"
    decision = approvals.Decision(approved, approvals.Proof.LOGIN, "web", evidence, contact=contact)
    return approvals.decide_approval(session, approval, decision, actor=tickets.Actor.contact(contact), now=now)
