"""Finding work: the queue (open tickets) and the ticket list, with counts, pages, column sort, saved
filters ("my tickets", "my level", "breaching in 1 h"), full-text search and bulk assign/status.

Registered on the console blueprint (`console.py` calls `register`), so the endpoint names stay
`console.queue`, `console.queue_json`, `console.ticket_list`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import tickets as svc
from .. import work_queue
from ..models import Company, StaffUser, Ticket
from ..sla import clock_calendar, sla_state, status_pauses_many
from ..validation import int_or_none
from .common import actor, now
from .db import db_session
from .formats import local_time
from .labels import label
from .params import int_arg

SAVED_VIEWS = ("mine", "my_level", "breaching")
BREACHING_WITHIN = timedelta(hours=1)
PER_PAGE = 50


def filter_from_request(at: datetime) -> svc.TicketFilter:
    """The list's filter from the query string: the selects, the search box and the saved view."""
    flt = svc.TicketFilter(
        company_id=int_arg("company"),
        level=request.args.get("level") or None,
        category=request.args.get("category") or None,
        status=[request.args["status"]] if request.args.get("status") else None,
        query=(request.args.get("q") or "").strip()[:200] or None,
    )
    view = request.args.get("view")
    if (view == "mine" or request.args.get("mine")) and current_user.is_staff:
        flt.assignee_id = current_user.record_id
    if view == "my_level" and current_user.is_staff:
        me = db_session().get(StaffUser, current_user.record_id)
        if me is not None and me.level:  # managers and admins have no level: the view shows every level
            flt.level = me.level
    if view == "breaching":
        flt.due_before = at + BREACHING_WITHIN
    if current_user.is_customer:
        flt.company_id = current_user.company_id
    return flt


def _page_request() -> tuple[str, bool, int]:
    sort = request.args.get("sort") or "queue"
    return (sort if sort in work_queue.SORTS else "queue", request.args.get("dir") == "desc",
            int_arg("page", 1, high=100_000) or 1)


def queue_rows(db: Session, tickets: list[Ticket], at: datetime) -> list[dict]:
    """What the queue shows per ticket, with the working time left on its response clock."""
    rows = []
    pauses = status_pauses_many(db, tickets)
    for t in tickets:
        state = sla_state(db, t, at, pauses[t.id])
        running = False
        if state.remaining is not None and t.responded_at is None and not t.sla_paused and t.contract is not None:
            running = clock_calendar(t.contract, t.sla_clock or "working").is_open_at(at)
        rows.append({
            "number": t.number, "subject": t.subject, "company": t.company.name if t.company else "",
            "caller": t.reporter_name or "", "caller_phone": t.reporter_phone or "",
            "category": t.category, "priority": t.priority, "status": t.status, "level": t.level,
            "assignee": t.assignee.name if t.assignee else "",
            "remaining_seconds": None if state.remaining is None else int(state.remaining.total_seconds()),
            "clock_running": running, "paused": t.sla_paused, "responded": t.responded_at is not None,
            "breached": state.breached, "due_at": t.response_due_at.isoformat() if t.response_due_at else None,
            "url": url_for("console.ticket", number=t.number),
            "category_label": str(label(t.category)), "priority_label": str(label(t.priority)),
            "status_label": str(label(t.status)), "level_label": str(label(t.level)),
        })
    return rows


def _find(open_only: bool, at: datetime) -> work_queue.ResultPage:
    flt = filter_from_request(at)
    flt.open_only = open_only
    sort, descending, page = _page_request()
    if not open_only and sort == "queue" and "sort" not in request.args:
        sort, descending = "created", True  # the full list: newest first unless asked otherwise
    return work_queue.find(db_session(), flt, sort=sort, descending=descending, page=page, per_page=PER_PAGE)


def _lists_context() -> dict:
    db = db_session()
    return {"companies": db.scalars(select(Company).order_by(Company.name)).all(),
            "staff": db.scalars(select(StaffUser).where(StaffUser.active.is_(True)).order_by(StaffUser.name)).all(),
            "args": request.args, "saved_views": SAVED_VIEWS}


def register(bp, staff_roles: tuple[str, ...], choices) -> None:  # noqa: ANN001
    """Add the queue's and the list's endpoints to the console blueprint."""
    from .login import roles_required

    @bp.get("/console/queue")
    @roles_required(*staff_roles)
    def queue():  # noqa: ANN202
        at = now()
        found = _find(True, at)
        return render_template("queue.html", rows=queue_rows(db_session(), found.tickets, at), result=found,
                               **_lists_context(), **choices())

    @bp.get("/console/queue.json")
    @roles_required(*staff_roles)
    def queue_json():  # noqa: ANN202
        at = now()
        found = _find(True, at)
        # at_local: "updated 10:30:05" in the viewer's zone on a 24-hour clock, never the browser's clock.
        return jsonify(at=at.isoformat(), at_local=local_time(at, fmt="%H:%M:%S"),
                       rows=queue_rows(db_session(), found.tickets, at), total=found.total,
                       page=found.page, pages=found.pages)

    @bp.get("/console/tickets")
    @login_required
    def ticket_list():  # noqa: ANN202
        if current_user.is_customer:
            return redirect(url_for("portal.home"))
        if not current_user.is_staff:
            abort(403)
        found = _find(False, now())
        return render_template("tickets.html", tickets=found.tickets, total=found.total, page=found.page,
                               result=found, **_lists_context(), **choices())

    @bp.post("/console/queue/bulk")
    @login_required
    def queue_bulk():  # noqa: ANN202
        if not current_user.can_work:
            abort(403)
        db = db_session()
        raw = request.form.get("assignee", "keep")
        assignee: int | None | str = ("keep" if raw == "keep" else current_user.record_id if raw == "me"
                                      else None if raw == "" else int_arg("assignee"))
        numbers = sorted({n for v in request.form.getlist("ticket") if (n := int_or_none(v)) is not None})
        try:
            changed = work_queue.apply_bulk(db, numbers, work_queue.BulkChange(
                assignee=assignee, status=request.form.get("status") or None), actor=actor(), now=now())
        except svc.TicketError as exc:
            db.rollback()
            flash(_("Nothing was changed: %(reason)s", reason=str(exc)), "error")
        else:
            db.commit()
            flash(_("%(count)d tickets changed.", count=changed), "ok")
        back = request.form.get("back") or ""
        return redirect(back if back.startswith("/console/") and not back.startswith("//") else
                        url_for("console.queue"))
