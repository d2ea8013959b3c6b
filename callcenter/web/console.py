"""The web console: agents' queue, ticket pages and actions, customers, contracts and assets.

Thin views over `callcenter.tickets` and `callcenter.sla`; customers (contacts) see only their
own company's tickets, and that rule lives in the queries (`_ticket_or_404`, `_scope`).
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import approvals
from .. import tickets as svc
from ..customer_portal import customer_sees
from ..models import (
    LEVEL_ORDER,
    OPEN_STATUSES,
    Approval,
    Asset,
    Call,
    Category,
    Channel,
    Company,
    Contact,
    Level,
    Priority,
    StaffUser,
    Status,
    Ticket,
    TicketEvent,
)
from ..sla import sla_state
from . import formats, queue_views, ticket_views
from .common import actor, now
from .db import db_session
from .labels import label
from .login import WORKING_ROLES, csrf_check, roles_required
from .params import int_arg

bp = Blueprint("console", __name__)
bp.before_request(csrf_check)

STAFF_ROLES = ("agent", "engineer", "qa", "manager", "admin")
RESOLUTIONS = ["solved", "project", "sales", "refused", "duplicate"]
LINK_KINDS = ["related", "project", "follow_up", "duplicate"]


def _staff_only() -> None:
    if not current_user.is_staff:
        abort(403)


# --- helpers ---------------------------------------------------------------------------------


def _ticket_or_404(number: int) -> Ticket:
    """The ticket, if this user may see it: a customer only reaches their own company's tickets."""
    stmt = select(Ticket).where(Ticket.number == number)
    if current_user.is_customer:
        stmt = stmt.where(Ticket.company_id == current_user.company_id)
    ticket = db_session().scalar(stmt)
    if ticket is None:
        abort(404)
    return ticket


def _int_arg(name: str) -> int | None:
    """An id or number from the query or form: None when absent, 400 when malformed or out of range."""
    return int_arg(name)


def _choices() -> dict:
    return {"categories": [c.value for c in Category], "levels": [lv.value for lv in Level],
            "statuses": [s.value for s in Status], "priorities": [p.value for p in Priority],
            "channels": [c.value for c in Channel if c != Channel.API]}


# --- pages -----------------------------------------------------------------------------------


@bp.get("/")
@login_required
def home():  # noqa: ANN201
    if current_user.is_customer:
        return redirect(url_for("portal.home"))
    return redirect(url_for("console.queue"))


@bp.route("/console/tickets/new", methods=["GET", "POST"])
@login_required
def new_ticket():  # noqa: ANN201
    if current_user.role == "qa":
        abort(403)
    db = db_session()
    if request.method == "POST":
        f = request.form
        if current_user.is_customer:
            contact = db.get(Contact, current_user.record_id)
            new = svc.NewTicket(subject=f.get("subject", ""), channel=Channel.WEB,
                                category=f.get("category", Category.USER), description=f.get("description", ""),
                                company_id=contact.company_id, reporter_contact_id=contact.id,
                                asset_id=_int_arg("asset_id"))
        else:
            new = svc.NewTicket(
                subject=f.get("subject", ""), channel=f.get("channel", Channel.PHONE),
                category=f.get("category", Category.USER), description=f.get("description", ""),
                company_id=_int_arg("company_id"), reporter_contact_id=_int_arg("reporter_contact_id"),
                reporter_name=f.get("reporter_name") or None, reporter_role=f.get("reporter_role") or None,
                reporter_phone=f.get("reporter_phone") or None, reporter_email=f.get("reporter_email") or None,
                asset_id=_int_arg("asset_id"), priority=f.get("priority") or None,
                level=f.get("level") or Level.L1, assignee_id=_int_arg("assignee_id"),
            )
        try:
            ticket = svc.create_ticket(db, new, actor=actor(), now=now(),
                                       number_start=current_app.config["SETTINGS"].ticket_number_start)
        except svc.TicketError as exc:
            db.rollback()
            flash(str(exc), "error")
            return _new_ticket_form(db), 400
        db.commit()
        flash(_("Ticket %(number)s created.", number=ticket.display_number), "ok")
        return redirect(url_for("console.ticket", number=ticket.number))
    return _new_ticket_form(db)


def _new_ticket_form(db: Session) -> str:
    if current_user.is_customer:
        companies = [db.get(Company, current_user.company_id)]
    else:
        companies = db.scalars(select(Company).order_by(Company.name)).all()
    company_ids = [c.id for c in companies]
    contacts = db.scalars(select(Contact).where(Contact.company_id.in_(company_ids), Contact.active.is_(True))
                          .order_by(Contact.name)).all()
    assets = db.scalars(select(Asset).where(Asset.company_id.in_(company_ids)).order_by(Asset.identifier)).all()
    staff = db.scalars(select(StaffUser).where(StaffUser.active.is_(True)).order_by(StaffUser.name)).all()
    return render_template("ticket_new.html", companies=companies, contacts=contacts, assets=assets, staff=staff,
                           form=request.form, **_choices())


@bp.get("/console/tickets/<int:number>")
@login_required
def ticket(number: int):  # noqa: ANN201
    if current_user.is_customer:
        return redirect(url_for("portal.ticket", number=number))
    return _ticket_page(number)


def _ticket_page(number: int, form: dict | None = None) -> str:
    """The staff ticket page; `form` keeps a refused composer update's values."""
    db = db_session()
    t = _ticket_or_404(number)
    at = now()
    events = db.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id)
                        .order_by(TicketEvent.at, TicketEvent.id)).all()
    asset_history = []
    if t.asset_id is not None:
        asset_history = db.scalars(select(Ticket).where(Ticket.asset_id == t.asset_id, Ticket.id != t.id)
                                   .order_by(Ticket.created_at.desc()).limit(50)).all()
    staff = db.scalars(select(StaffUser).where(StaffUser.active.is_(True)).order_by(StaffUser.name)).all()
    company_ids = [t.company_id] if t.company_id else []
    return render_template(
        "ticket.html", t=t, sla=sla_state(db, t, at), timeline=ticket_views.ticket_timeline(db, t, events),
        links=svc.linked_tickets(db, t), customer_visible={e.id for e in events if customer_sees(e)},
        asset_history=asset_history, staff=staff, managers=[s for s in staff if s.role in {"manager", "admin"}],
        contacts=t.company.contacts if t.company else [],
        authorisers=[c for c in (t.company.contacts if t.company else []) if c.can_authorize and c.active],
        transitions=sorted(svc.TRANSITIONS[t.status], key=lambda s: list(Status).index(Status(s))),
        all_levels=[lv.value for lv in LEVEL_ORDER], resolutions=RESOLUTIONS, link_kinds=LINK_KINDS,
        total_hours=sum((e.billable_hours for e in t.time_entries), start=0),
        can_work=current_user.can_work, is_open=t.status in OPEN_STATUSES, form=form or {},
        companies=db.scalars(select(Company).order_by(Company.name)).all(),
        assets=db.scalars(select(Asset).where(Asset.company_id.in_(company_ids))
                          .order_by(Asset.identifier)).all() if company_ids else [],
        calls=db.scalars(select(Call).where(Call.ticket_id == t.id).order_by(Call.arrived_at)).all(),
        **_choices(),
    )


def _act(number: int, action) -> object:  # noqa: ANN001
    """Run one ticket action for the working roles; a refused action is reported, nothing is lost."""
    if not current_user.can_work:
        abort(403)
    db = db_session()
    t = _ticket_or_404(number)
    try:
        message = action(db, t)
    except svc.TicketError as exc:
        db.rollback()
        flash(str(exc), "error")
    else:
        db.commit()
        if message:
            flash(message, "ok")
    return redirect(url_for("console.ticket", number=number))


@bp.post("/console/tickets/<int:number>/status")
@login_required
def ticket_status(number: int):  # noqa: ANN201
    def run(db: Session, t: Ticket) -> str:
        new_status = request.form.get("status", "")
        if new_status == "reopen":
            svc.reopen(db, t, actor=actor(), now=now(), note=request.form.get("note") or None)
            return _("Ticket reopened.")
        svc.change_status(db, t, new_status, actor=actor(), now=now(), note=request.form.get("note") or None,
                          resolution=request.form.get("resolution") or None)
        return _("Status changed to %(status)s.", status=label(new_status))

    return _act(number, run)


@bp.post("/console/tickets/<int:number>/time")
@login_required
def ticket_time(number: int):  # noqa: ANN201
    def run(db: Session, t: Ticket) -> str:
        minutes = int_arg("minutes", high=24 * 60)
        if minutes is None:
            raise svc.TicketError(_("minutes worked must be a whole number"))
        entry = svc.log_time(db, t, minutes, actor=actor(), now=now(),
                             quick_phone_answer=bool(request.form.get("quick_phone_answer")),
                             note=request.form.get("note") or None)
        return _("Logged %(hours)s h.", hours=formats.number(entry.billable_hours))

    return _act(number, run)


@bp.post("/console/tickets/<int:number>/escalate")
@login_required
def ticket_escalate(number: int):  # noqa: ANN201
    def run(db: Session, t: Ticket) -> str:
        level = request.form.get("level", "")
        svc.escalate(db, t, level, actor=actor(), now=now(), reason=request.form.get("reason") or None,
                     assignee_id=_int_arg("assignee_id"))
        return _("Moved to %(level)s.", level=level)

    return _act(number, run)


@bp.post("/console/tickets/<int:number>/assign")
@login_required
def ticket_assign(number: int):  # noqa: ANN201
    def run(db: Session, t: Ticket) -> str:
        staff_id = current_user.record_id if request.form.get("staff_id") == "me" else _int_arg("staff_id")
        svc.assign(db, t, staff_id, actor=actor(), now=now())
        return _("Assignment saved.")

    return _act(number, run)


@bp.post("/console/tickets/<int:number>/note")
@login_required
def ticket_note(number: int):  # noqa: ANN201
    def run(db: Session, t: Ticket) -> str:
        svc.add_note(db, t, request.form.get("body", ""), actor=actor(), now=now(),
                     public=bool(request.form.get("public")))
        return _("Note added.")

    return _act(number, run)


@bp.post("/console/tickets/<int:number>/link")
@login_required
def ticket_link(number: int):  # noqa: ANN201
    def run(db: Session, t: Ticket) -> str:
        try:
            other = svc.get_ticket(db, request.form.get("other", ""))
        except svc.TicketNotFound as exc:
            raise svc.TicketError(str(exc)) from exc
        svc.link_tickets(db, t, other, kind=request.form.get("kind") or "related", actor=actor(), now=now())
        return _("Linked to %(number)s.", number=other.display_number)

    return _act(number, run)


@bp.post("/console/tickets/<int:number>/project")
@login_required
def ticket_project(number: int):  # noqa: ANN201
    def run(db: Session, t: Ticket) -> str:
        project = svc.turn_into_project(db, t, actor=actor(), now=now(), close=bool(request.form.get("close")),
                                        number_start=current_app.config["SETTINGS"].ticket_number_start)
        return _("Project %(number)s opened.", number=project.display_number)

    return _act(number, run)


@bp.post("/console/tickets/<int:number>/approvals")
@login_required
def ticket_request_approval(number: int):  # noqa: ANN201
    def run(db: Session, t: Ticket) -> str:
        kind = request.form.get("kind", "")
        svc.request_approval(db, t, kind=kind, summary=request.form.get("summary", ""), actor=actor(), now=now(),
                             approver_contact_id=_int_arg("approver_contact_id") if kind != "spare_part" else None,
                             approver_staff_id=_int_arg("approver_staff_id") if kind == "spare_part" else None)
        return _("Approval requested.")

    return _act(number, run)


@bp.post("/console/tickets/<int:number>/approvals/<int:approval_id>")
@login_required
def ticket_decide_approval(number: int, approval_id: int):  # noqa: ANN201
    db = db_session()
    t = _ticket_or_404(number)
    approval = db.scalar(select(Approval).where(Approval.id == approval_id, Approval.ticket_id == t.id))
    if approval is None:
        abort(404)
    approved = request.form.get("decision") == "approve"
    evidence = request.form.get("evidence", "")
    me = db.get(Contact if current_user.is_customer else StaffUser, current_user.record_id)
    if current_user.is_customer:
        # The customer's authorised person decides in the portal as themselves.
        decision = approvals.Decision(approved, approvals.Proof.LOGIN, "web", evidence, contact=me)
    elif approval.kind == "spare_part":
        decision = approvals.Decision(approved, approvals.Proof.LOGIN, "web", evidence, staff=me)
    else:
        # Staff enter the customer's written decision on their behalf, with the evidence.
        channel = request.form.get("channel") if request.form.get("channel") in {"email", "web"} else "email"
        contact = db.get(Contact, _int_arg("decided_by_contact_id") or approval.approver_contact_id or 0)
        decision = approvals.Decision(approved, approvals.Proof.RECORDED, channel, evidence, contact=contact,
                                      recorder=me)
    if not current_user.is_customer and not current_user.can(*(("manager",) if approval.kind == "spare_part"
                                                               else WORKING_ROLES)):
        abort(403)  # not this role's button at all; who exactly may decide is approvals.check_decision
    try:
        approvals.decide_approval(db, approval, decision, actor=actor(), now=now())
    except svc.TicketError as exc:  # ApprovalRefused / ApprovalClosed included: said on the page
        db.rollback()
        flash(str(exc), "error")
    else:
        db.commit()
        flash(_("Decision recorded."), "ok")
    return redirect(url_for("console.ticket", number=number))


# --- customers, contracts, assets ------------------------------------------------------------


@bp.get("/console/companies")
@roles_required(*STAFF_ROLES)
def companies():  # noqa: ANN201
    db = db_session()
    open_counts = dict(db.execute(
        select(Ticket.company_id, func.count()).where(Ticket.status.in_([s.value for s in OPEN_STATUSES]))
        .group_by(Ticket.company_id)).all())
    return render_template("companies.html", companies=db.scalars(select(Company).order_by(Company.name)).all(),
                           open_counts=open_counts)


@bp.get("/console/companies/<int:company_id>")
@roles_required(*STAFF_ROLES)
def company(company_id: int):  # noqa: ANN201
    db = db_session()
    c = db.get(Company, company_id)
    if c is None:
        abort(404)
    recent = db.scalars(select(Ticket).where(Ticket.company_id == c.id).order_by(Ticket.created_at.desc())
                        .limit(30)).all()
    return render_template("company.html", c=c, recent=recent, today=now().date())


@bp.get("/console/assets/<int:asset_id>")
@roles_required(*STAFF_ROLES)
def asset(asset_id: int):  # noqa: ANN201
    db = db_session()
    a = db.get(Asset, asset_id)
    if a is None:
        abort(404)
    history = db.scalars(select(Ticket).where(Ticket.asset_id == a.id).order_by(Ticket.created_at.desc())).all()
    return render_template("asset.html", a=a, history=history)


ticket_views.register(bp, _ticket_page)
queue_views.register(bp, STAFF_ROLES, _choices)
queue_rows = queue_views.queue_rows

__all__ = ["bp", "queue_rows", "WORKING_ROLES"]
