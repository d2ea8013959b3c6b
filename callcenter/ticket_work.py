"""Working a ticket in one step: the console's composer (message, status, level, assignee, time) and the
sidebar's single-field edits, on top of `callcenter.tickets`.

The one rule that matters here: text an agent marks as internal never lands on an event a customer
sees (the status event carries its note into the customer's mail and portal), so an internal note is
written as its own internal event, or as the escalation's reason, which is internal too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy.orm import Session

from . import tickets as svc
from .customers import contract_at
from .models import Company, Status, Ticket
from .sla import refresh_ticket_sla

HOURS_STEP = Decimal("0.25")
MAX_HOURS = Decimal("24")
KEEP = "keep"  # the assignee select's "no change"


@dataclass
class WorkUpdate:
    """What the agent filled in; every part is optional, but at least one must be there."""

    body: str = ""
    public: bool = False              # a reply to the customer (mailed, in the portal) or an internal note
    status: str | None = None         # None: no change; "reopen" reopens a resolved or closed ticket
    resolution: str | None = None
    level: str | None = None          # None: no change
    assignee: int | None | str = KEEP  # KEEP, None (nobody) or a staff id
    hours: Decimal | None = None      # time spent, in 0.25 h steps
    quick_phone_answer: bool = False


def parse_hours(raw: str | None) -> Decimal | None:
    """"0.75" or "0,75" -> Decimal('0.75'); empty -> None; anything not a positive multiple of 0.25 h is refused."""
    text = (raw or "").strip().replace(",", ".")
    if not text:
        return None
    try:
        hours = Decimal(text)
    except InvalidOperation:
        raise svc.TicketError("time spent must be a number of hours, e.g. 0.25 or 1.5") from None
    if not hours.is_finite() or hours <= 0 or hours > MAX_HOURS or hours % HOURS_STEP:
        raise svc.TicketError("time spent must be 0.25 to 24 hours, in 0.25 h steps")
    return hours


def apply_update(session: Session, ticket: Ticket, update: WorkUpdate, *, actor: svc.Actor,
                 now: datetime) -> list[str]:
    """Apply the composer's update; returns what was done (for the confirmation). All or nothing: the
    caller commits, and rolls back on TicketError."""
    body = (update.body or "").strip()
    done: list[str] = []
    if update.status == "reopen":
        svc.reopen(session, ticket, actor=actor, now=now)
        done.append("reopened")
    internal_used = False
    if update.level and update.level != ticket.level:
        assignee_id = update.assignee if isinstance(update.assignee, int) else None
        # An internal note explains the move to colleagues; a reply to the customer stays the reply.
        reason = body if body and not update.public else None
        svc.escalate(session, ticket, update.level, actor=actor, now=now, reason=reason, assignee_id=assignee_id)
        internal_used = reason is not None
        done.append("level")
        if assignee_id is not None:
            done.append("assignee")
    if update.assignee != KEEP and "assignee" not in done:
        current = ticket.assignee_id
        if update.assignee != current:
            svc.assign(session, ticket, update.assignee, actor=actor, now=now)  # type: ignore[arg-type]
            done.append("assignee")
    reply_used = False
    if update.status and update.status != "reopen":
        # The status mail carries a reply; an internal note never rides on it.
        note = body if body and update.public else None
        svc.change_status(session, ticket, update.status, actor=actor, now=now, note=note,
                          resolution=update.resolution or None)
        reply_used = note is not None
        done.append("status")
    if body and update.public and not reply_used:
        svc.add_note(session, ticket, body, actor=actor, now=now, public=True)
        done.append("reply")
    elif body and not update.public and not internal_used:
        svc.add_note(session, ticket, body, actor=actor, now=now, public=False)
        done.append("note")
    elif body:
        done.append("reply" if update.public else "note")
    if update.hours is not None:
        svc.log_time(session, ticket, int(update.hours * 60), actor=actor, now=now,
                     quick_phone_answer=update.quick_phone_answer)
        done.append("time")
    if not done:
        raise svc.TicketError("nothing to update: write a message or choose a change")
    return done


def set_company(session: Session, ticket: Ticket, company_id: int | None, *, actor: svc.Actor,
                now: datetime) -> None:
    """Put a ticket under another company (a mail from an unknown sender, a caller who named the wrong
    one): its contract and SLA follow, a machine of the old company is dropped. Internal bookkeeping."""
    company = session.get(Company, company_id) if company_id else None
    if company_id and company is None:
        raise svc.TicketError(f"unknown company {company_id}")
    if ticket.company_id == company_id:
        return
    old = ticket.company.name if ticket.company else None
    ticket.company = company
    ticket.contract = contract_at(company, now)
    changes: dict = {"company": [old, company.name if company else None]}
    if ticket.asset is not None and (company is None or ticket.asset.company_id != company.id):
        changes["asset"] = [ticket.asset.identifier, None]
        ticket.asset = None
    if ticket.reporter is not None and ticket.reporter.company_id != company_id:
        changes["reporter"] = [ticket.reporter.name, None]
        ticket.reporter = None
    svc.record_change(session, ticket, "updated", actor, now, changes, public=False)
    if ticket.status not in {Status.RESOLVED, Status.CLOSED}:
        refresh_ticket_sla(session, ticket, now)


SIDEBAR_FIELDS = ("priority", "category", "asset_id", "company_id")


def edit_field(session: Session, ticket: Ticket, name: str, value: str | None, *, actor: svc.Actor,
               now: datetime) -> None:
    """One sidebar field changed in place."""
    if name not in SIDEBAR_FIELDS:
        raise svc.TicketError(f"cannot edit {name}")
    if name in {"asset_id", "company_id"}:
        raw = (value or "").strip()
        if raw and not (raw.isascii() and raw.isdigit()):
            raise svc.TicketError(f"{name} must be an id")
        number = int(raw) if raw else None
        if name == "company_id":
            set_company(session, ticket, number, actor=actor, now=now)
        else:
            svc.update_fields(session, ticket, {"asset_id": number}, actor=actor, now=now)
        return
    svc.update_fields(session, ticket, {name: value or ""}, actor=actor, now=now)
