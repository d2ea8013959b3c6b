"""Finding work: the open tickets (or all tickets) a filter selects, counted, sorted by any column and
cut into pages, and the bulk changes made from the list.

Sorting by the queue's own order (complaints, critical, nearest deadline) is the default; any other
column sorts with the ticket id as tie-breaker so that pages never overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, aliased, selectinload

from . import tickets as svc
from .models import Company, Priority, StaffUser, Ticket

PRIORITY_RANK = case({p.value: i for i, p in enumerate([Priority.CRITICAL, Priority.HIGH, Priority.NORMAL,
                                                        Priority.LOW])}, value=Ticket.priority, else_=9)
SORTS = ("queue", "number", "subject", "company", "caller", "category", "priority", "status", "level",
         "assignee", "due", "created")
MAX_PER_PAGE = 200


@dataclass(frozen=True)
class ResultPage:
    tickets: list[Ticket]
    total: int
    page: int
    per_page: int
    sort: str
    descending: bool

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def find(session: Session, flt: svc.TicketFilter, *, sort: str = "queue", descending: bool = False,
         page: int = 1, per_page: int = 50) -> ResultPage:
    """One page of the tickets the filter selects, with the total count."""
    sort = sort if sort in SORTS else "queue"
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    stmt = svc.filtered_query(flt, session.get_bind().dialect.name)
    page = max(1, page)
    if sort == "queue":
        order = svc.queue_order()
        if descending:
            order = [o.desc() for o in order]
    else:
        if sort == "company":
            company = aliased(Company)
            stmt = stmt.outerjoin(company, company.id == Ticket.company_id)
            key = func.lower(company.name)
        elif sort == "assignee":
            staff = aliased(StaffUser)
            stmt = stmt.outerjoin(staff, staff.id == Ticket.assignee_id)
            key = func.lower(staff.name)
        else:
            key = {"number": Ticket.number, "subject": func.lower(Ticket.subject),
                   "caller": func.lower(func.coalesce(Ticket.reporter_name, Ticket.reporter_phone)),
                   "category": Ticket.category, "priority": PRIORITY_RANK, "status": Ticket.status,
                   "level": Ticket.level, "due": Ticket.response_due_at, "created": Ticket.created_at}[sort]
        tie = Ticket.id.desc() if descending else Ticket.id
        order = [key.desc().nulls_last() if descending else key.asc().nulls_last(), tie]
    # Sort the narrow ids first, then load the page's fifty whole rows: sorting thousands of full
    # tickets (descriptions included) to keep fifty was most of the page's database time.
    # The total comes with the page (a window count): one pass over the matches instead of two.
    def page_ids(number: int) -> tuple[list[int], int]:
        rows = session.execute(stmt.with_only_columns(Ticket.id, func.count().over()).order_by(*order)
                               .offset((number - 1) * per_page).limit(per_page)).all()
        return [r[0] for r in rows], (rows[0][1] if rows else 0)

    ids, total = page_ids(page)
    if not ids and page > 1:  # past the end (the list shrank, or a hand-made URL): the last page
        total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
        page = max(1, -(-total // per_page))
        ids, total = page_ids(page)
    loaded = {t.id: t for t in session.scalars(
        select(Ticket).where(Ticket.id.in_(ids)).options(
            selectinload(Ticket.company), selectinload(Ticket.assignee), selectinload(Ticket.contract)))}
    return ResultPage([loaded[i] for i in ids], total, page, per_page, sort, descending)


@dataclass
class BulkChange:
    assignee: int | None | str = "keep"   # "keep", None (nobody) or a staff id
    status: str | None = None


def apply_bulk(session: Session, numbers: list[int], change: BulkChange, *, actor: svc.Actor,
               now: datetime) -> int:
    """Assign and/or move many tickets at once. All or nothing: a refusal names the ticket and the
    caller rolls back. Returns how many tickets changed."""
    if change.assignee == "keep" and not change.status:
        raise svc.TicketError("choose an assignee or a status for the selected tickets")
    if not numbers:
        raise svc.TicketError("no tickets selected")
    found = session.scalars(select(Ticket).where(Ticket.number.in_(numbers)).order_by(Ticket.id)).all()
    changed = 0
    for ticket in found:
        try:
            touched = False
            if change.assignee != "keep" and change.assignee != ticket.assignee_id:
                svc.assign(session, ticket, change.assignee, actor=actor, now=now)  # type: ignore[arg-type]
                touched = True
            if change.status and change.status != ticket.status:
                svc.change_status(session, ticket, change.status, actor=actor, now=now)
                touched = True
        except svc.TicketError as exc:
            raise svc.TicketError(f"{ticket.display_number}: {exc}") from None
        changed += touched
    return changed
