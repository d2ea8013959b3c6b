"""Finding tickets: the filter every list shares (console queue and list, API), the queue's order, and
full-text search through `callcenter.search`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from . import search as _search
from .models import OPEN_STATUSES, Category, Priority, Ticket
from .validation import int_or_none


@dataclass
class TicketFilter:
    status: list[str] | None = None
    open_only: bool = False
    company_id: int | None = None
    category: str | None = None
    level: str | None = None
    assignee_id: int | None = None
    priority: str | None = None
    asset_id: int | None = None
    query: str | None = None
    # Not yet responded to and due by then (the queue's "breaching in 1 h").
    due_before: datetime | None = None


def queue_order() -> list:
    """Complaints first (handled out of turn), then critical, then the nearest SLA deadline."""
    return [
        case((Ticket.category == Category.COMPLAINT, 0), else_=1),
        case((Ticket.priority == Priority.CRITICAL, 0), else_=1),
        case((Ticket.response_due_at.is_(None), 1), else_=0),
        Ticket.response_due_at,
        Ticket.created_at,
        Ticket.id,
    ]


def filtered_query(flt: TicketFilter, dialect: str = "sqlite"):  # noqa: ANN201
    """SELECT of the tickets the filter selects, unordered (the list, the queue and the API share it)."""
    stmt = select(Ticket)
    if flt.status:
        stmt = stmt.where(Ticket.status.in_(flt.status))
    if flt.open_only:
        stmt = stmt.where(Ticket.status.in_([s.value for s in OPEN_STATUSES]))
    if flt.company_id is not None:
        stmt = stmt.where(Ticket.company_id == flt.company_id)
    if flt.category:
        stmt = stmt.where(Ticket.category == flt.category)
    if flt.level:
        stmt = stmt.where(Ticket.level == flt.level)
    if flt.assignee_id is not None:
        stmt = stmt.where(Ticket.assignee_id == flt.assignee_id)
    if flt.priority:
        stmt = stmt.where(Ticket.priority == flt.priority)
    if flt.asset_id is not None:
        stmt = stmt.where(Ticket.asset_id == flt.asset_id)
    if flt.due_before is not None:
        stmt = stmt.where(Ticket.responded_at.is_(None), Ticket.response_due_at <= flt.due_before,
                          Ticket.status.in_([s.value for s in OPEN_STATUSES]))
    if flt.query:
        stmt = stmt.where(_search_condition(flt.query, dialect))
    return stmt


def _search_condition(query: str, dialect: str):  # noqa: ANN202
    """Full-text search (subject, bodies, mails, caller numbers), or the ticket number itself."""
    number = query.strip().lstrip("#")
    ids = _search.matching_ids(dialect, query)
    condition = Ticket.id.in_(ids) if ids is not None else Ticket.id.is_(None)
    if (as_number := int_or_none(number)) is not None:
        condition = or_(condition, Ticket.number == as_number)
    return condition


def list_tickets(session: Session, flt: TicketFilter, *, page: int = 1, per_page: int = 50,
                 queue: bool = False) -> tuple[list[Ticket], int]:
    stmt = filtered_query(flt, session.get_bind().dialect.name)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    order = queue_order() if queue else [Ticket.created_at.desc(), Ticket.id.desc()]
    rows = session.scalars(stmt.order_by(*order).offset((page - 1) * per_page).limit(per_page))
    return list(rows), total


def work_queue(session: Session, flt: TicketFilter | None = None, limit: int = 200) -> list[Ticket]:
    flt = flt or TicketFilter()
    flt.open_only = True
    return list_tickets(session, flt, per_page=limit, queue=True)[0]
