"""JSON API under /api/v1/: token auth, validated bodies, JSON errors, an OpenAPI document."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from flask import Blueprint, g, jsonify, request
from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select
from werkzeug.exceptions import HTTPException

from .. import approvals
from .. import tickets as svc
from ..auth import has_role, user_for_token
from ..customers import UnknownCompany, find_company, find_contact_by_email
from ..models import Approval, Company, Contact, StaffUser, Ticket
from ..sla import sla_state
from ..validation import MAX_DB_INT, optional_int
from . import schemas
from .db import db_session

api = Blueprint("api", __name__, url_prefix="/api/v1")
M = TypeVar("M", bound=BaseModel)

WRITE_ROLES = ("agent", "engineer", "manager")


def now_utc() -> datetime:
    return datetime.now(UTC)


class ApiError(Exception):
    def __init__(self, status: int, message: str, details: list | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.details = status, message, details


def _api_error(exc: ApiError):  # noqa: ANN202
    db_session().rollback()
    return jsonify(error=exc.message, details=exc.details), exc.status


def _http_error(exc: HTTPException):  # noqa: ANN202
    db_session().rollback()
    return jsonify(error=exc.description or exc.name), exc.code


def json_errors(blueprint: Blueprint) -> None:
    """Every API blueprint answers errors as JSON and leaves nothing half-written."""
    blueprint.register_error_handler(ApiError, _api_error)
    blueprint.register_error_handler(HTTPException, _http_error)


json_errors(api)


def token_required(*roles: str) -> Callable:
    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):  # noqa: ANN202
            header = request.headers.get("Authorization", "")
            token = header[7:].strip() if header.lower().startswith("bearer ") else ""
            user = user_for_token(db_session(), token, now_utc()) if token else None
            if user is None:
                raise ApiError(401, "a valid API token is required (Authorization: Bearer <token>)")
            if roles and not has_role(user, *roles):
                raise ApiError(403, f"role {user.role} may not do this")
            g.api_user = user
            return view(*args, **kwargs)

        wrapper.required_roles = roles  # the OpenAPI document lists 403 where a role is required
        return wrapper

    return decorator


def parse_body(model: type[M]) -> M:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object (Content-Type: application/json)")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        raise ApiError(422, "invalid request body", details) from None


def actor() -> svc.Actor:
    return svc.Actor.staff(g.api_user)


def ticket_json(ticket: Ticket, now: datetime) -> dict:
    state = sla_state(db_session(), ticket, now)
    return schemas.TicketOut(
        number=ticket.number, display_number=ticket.display_number, subject=ticket.subject,
        description=ticket.description, channel=ticket.channel, category=ticket.category,
        priority=ticket.priority, status=ticket.status, level=ticket.level, company_id=ticket.company_id,
        company=ticket.company.name if ticket.company else None, reporter_contact_id=ticket.reporter_contact_id,
        reporter_name=ticket.reporter_name, reporter_role=ticket.reporter_role, reporter_email=ticket.reporter_email,
        reporter_phone=ticket.reporter_phone, asset_id=ticket.asset_id, location=ticket.location,
        assignee_id=ticket.assignee_id, assignee=ticket.assignee.name if ticket.assignee else None,
        created_at=ticket.created_at, updated_at=ticket.updated_at, resolved_at=ticket.resolved_at,
        closed_at=ticket.closed_at, resolution=ticket.resolution,
        sla=schemas.SlaOut(
            due_at=state.due_at,
            remaining_minutes=None if state.remaining is None else round(state.remaining.total_seconds() / 60, 1),
            breached=state.breached, paused=state.paused, responded_at=state.responded_at,
            target_minutes=ticket.sla_response_minutes, clock=ticket.sla_clock,
        ),
    ).model_dump(mode="json")


def load_ticket(number: int) -> Ticket:
    try:
        return svc.get_ticket(db_session(), number)
    except svc.TicketNotFound as exc:
        raise ApiError(404, str(exc)) from None


def settings():  # noqa: ANN201
    from flask import current_app

    return current_app.config["SETTINGS"]


def _int_arg(name: str, default: int | None = None, low: int = 1, high: int = MAX_DB_INT) -> int | None:
    value = optional_int(request.args.get(name), f"query parameter {name}", low=low, high=high)
    return default if value is None else value


@api.get("/tickets")
@token_required()
def list_tickets():  # noqa: ANN201
    session = db_session()
    company_id = _int_arg("company_id")
    if request.args.get("company"):
        try:
            company_id = find_company(session, request.args["company"]).id
        except UnknownCompany as exc:
            raise ApiError(404, str(exc)) from None
    statuses = [s for s in request.args.get("status", "").split(",") if s]
    flt = svc.TicketFilter(
        status=statuses or None, open_only=request.args.get("open") in {"1", "true"}, company_id=company_id,
        category=request.args.get("category"), level=request.args.get("level"),
        assignee_id=_int_arg("assignee_id"), priority=request.args.get("priority"),
        asset_id=_int_arg("asset_id"), query=request.args.get("q"),
    )
    page, per_page = _int_arg("page", 1), _int_arg("per_page", 50, 1, 500)
    rows, total = svc.list_tickets(session, flt, page=page, per_page=per_page,
                                   queue=request.args.get("order") == "queue")
    now = now_utc()
    return jsonify(items=[ticket_json(t, now) for t in rows], total=total, page=page, per_page=per_page)


@api.post("/tickets")
@token_required(*WRITE_ROLES)
def create_ticket():  # noqa: ANN201
    body = parse_body(schemas.TicketCreate)
    session = db_session()
    company_id = body.company_id
    if body.company:
        try:
            company_id = find_company(session, body.company).id
        except UnknownCompany as exc:
            raise ApiError(422, str(exc)) from None
    reporter_id = body.reporter_contact_id
    if reporter_id is None and body.reporter_email:
        contact = find_contact_by_email(session, body.reporter_email)
        reporter_id = contact.id if contact else None
    now = now_utc()
    try:
        ticket = svc.create_ticket(session, svc.NewTicket(
            subject=body.subject, description=body.description, channel=body.channel, category=body.category,
            company_id=company_id, reporter_contact_id=reporter_id, reporter_name=body.reporter_name,
            reporter_role=body.reporter_role, reporter_email=body.reporter_email, reporter_phone=body.reporter_phone,
            asset_id=body.asset_id, location=body.location, priority=body.priority, level=body.level,
            assignee_id=body.assignee_id,
        ), actor=actor(), now=now, number_start=settings().ticket_number_start)
        session.commit()
    except svc.TicketError as exc:
        raise ApiError(422, str(exc)) from None
    return jsonify(ticket_json(ticket, now)), 201, {"Location": f"/api/v1/tickets/{ticket.number}"}


@api.get("/tickets/<int:number>")
@token_required()
def show_ticket(number: int):  # noqa: ANN201
    ticket = load_ticket(number)
    data = ticket_json(ticket, now_utc())
    data["events"] = [schemas.EventOut.model_validate(e, from_attributes=True).model_dump(mode="json")
                      for e in ticket.events]
    data["links"] = [{"kind": kind, "ticket": other.number} for kind, other in svc.linked_tickets(db_session(), ticket)]
    data["approvals"] = [_approval_json(a) for a in ticket.approvals]
    data["time_entries"] = [{"at": e.at.isoformat(), "minutes": e.minutes_worked, "hours": str(e.billable_hours),
                             "quick_phone_answer": e.quick_phone_answer, "note": e.note} for e in ticket.time_entries]
    return jsonify(data)


def _approval_json(a: Approval) -> dict:
    return {"id": a.id, "kind": a.kind, "status": a.status, "summary": a.summary,
            "requested_at": a.requested_at.isoformat(), "approver_contact_id": a.approver_contact_id,
            "approver_staff_id": a.approver_staff_id,
            "decided_at": a.decided_at.isoformat() if a.decided_at else None,
            "decided_by": a.decided_by_name, "channel": a.decision_channel, "evidence": a.evidence}


@api.patch("/tickets/<int:number>")
@token_required(*WRITE_ROLES)
def update_ticket(number: int):  # noqa: ANN201
    body = parse_body(schemas.TicketUpdate)
    session = db_session()
    ticket = load_ticket(number)
    now = now_utc()
    who = actor()
    try:
        fields = {k: v for k, v in body.model_dump(exclude_unset=True).items() if k in svc.UPDATABLE}
        if fields:
            svc.update_fields(session, ticket, fields, actor=who, now=now)
        if body.unassign:
            svc.assign(session, ticket, None, actor=who, now=now)
        elif body.assignee_id is not None and body.level is None:
            svc.assign(session, ticket, body.assignee_id, actor=who, now=now)
        if body.level is not None and body.level != ticket.level:
            svc.escalate(session, ticket, body.level, actor=who, now=now, reason=body.note,
                         assignee_id=body.assignee_id)
        # With a level change the note is the escalation's reason, for colleagues only: it must not
        # ride on the status event too, whose note is mailed to the customer.
        status_note = None if body.level is not None else body.note
        if body.reopen:
            svc.reopen(session, ticket, actor=who, now=now, note=status_note)
        elif body.status is not None and body.status != ticket.status:
            svc.change_status(session, ticket, body.status, actor=who, now=now, note=status_note,
                              resolution=body.resolution)
        elif body.note and not (body.level or body.status):
            svc.add_note(session, ticket, body.note, actor=who, now=now, public=True)
        session.commit()
    except svc.TicketError as exc:
        raise ApiError(422, str(exc)) from None
    return jsonify(ticket_json(ticket, now))


@api.post("/tickets/<int:number>/notes")
@token_required(*WRITE_ROLES)
def add_note(number: int):  # noqa: ANN201
    body = parse_body(schemas.NoteCreate)
    ticket = load_ticket(number)
    try:
        event = svc.add_note(db_session(), ticket, body.body, actor=actor(), now=now_utc(), public=body.public)
        db_session().commit()
    except svc.TicketError as exc:
        raise ApiError(422, str(exc)) from None
    return jsonify(schemas.EventOut.model_validate(event, from_attributes=True).model_dump(mode="json")), 201


@api.post("/tickets/<int:number>/time")
@token_required(*WRITE_ROLES)
def log_time(number: int):  # noqa: ANN201
    body = parse_body(schemas.TimeCreate)
    ticket = load_ticket(number)
    try:
        entry = svc.log_time(db_session(), ticket, body.minutes, actor=actor(), now=now_utc(),
                             quick_phone_answer=body.quick_phone_answer, note=body.note)
        db_session().commit()
    except svc.TicketError as exc:
        raise ApiError(422, str(exc)) from None
    return jsonify(minutes=entry.minutes_worked, hours=str(entry.billable_hours),
                   quick_phone_answer=entry.quick_phone_answer), 201


@api.post("/tickets/<int:number>/links")
@token_required(*WRITE_ROLES)
def link(number: int):  # noqa: ANN201
    body = parse_body(schemas.LinkCreate)
    a, b = load_ticket(number), load_ticket(body.ticket)
    try:
        svc.link_tickets(db_session(), a, b, kind=body.kind, actor=actor(), now=now_utc())
        db_session().commit()
    except svc.TicketError as exc:
        raise ApiError(422, str(exc)) from None
    return jsonify(ticket=a.number, linked=b.number, kind=body.kind), 201


@api.post("/tickets/<int:number>/approvals")
@token_required(*WRITE_ROLES)
def request_approval(number: int):  # noqa: ANN201
    body = parse_body(schemas.ApprovalCreate)
    ticket = load_ticket(number)
    try:
        approval = svc.request_approval(db_session(), ticket, kind=body.kind, summary=body.summary, actor=actor(),
                                        now=now_utc(), approver_contact_id=body.approver_contact_id,
                                        approver_staff_id=body.approver_staff_id)
        db_session().commit()
    except svc.TicketError as exc:
        raise ApiError(422, str(exc)) from None
    return jsonify(_approval_json(approval)), 201


@api.post("/approvals/<int:approval_id>/decision")
@token_required(*WRITE_ROLES)
def decide_approval(approval_id: int):  # noqa: ANN201
    """A manager decides a spare part as themselves; for a permission change or a device order, staff
    enter the decision the company's authorised contact gave in writing (`decided_by_contact_id`)."""
    body = parse_body(schemas.ApprovalDecision)
    session = db_session()
    approval = session.get(Approval, approval_id)
    if approval is None:
        raise ApiError(404, f"no approval {approval_id}")
    user: StaffUser = g.api_user
    if approval.kind == "spare_part":
        if body.decided_by_contact_id is not None:
            raise ApiError(403, "a spare part is decided by a manager, not by a customer contact")
        decision = approvals.Decision(body.approved, approvals.Proof.LOGIN, "api", body.evidence, staff=user)
    else:
        if body.decided_by_contact_id is None:
            raise ApiError(403, "name the customer's authorised contact who decided (decided_by_contact_id)")
        contact = session.get(Contact, body.decided_by_contact_id)
        if contact is None:
            raise ApiError(422, f"unknown contact {body.decided_by_contact_id}")
        decision = approvals.Decision(body.approved, approvals.Proof.RECORDED, "api", body.evidence,
                                      contact=contact, recorder=user)
    try:
        approvals.decide_approval(session, approval, decision, actor=actor(), now=now_utc())
        session.commit()
    except approvals.ApprovalRefused as exc:
        raise ApiError(403, str(exc)) from None
    except approvals.ApprovalClosed as exc:
        raise ApiError(409, str(exc)) from None
    except svc.TicketError as exc:
        raise ApiError(422, str(exc)) from None
    return jsonify(_approval_json(approval))


def _company_json(c: Company) -> dict:
    return {"id": c.id, "name": c.name, "mail_domain": c.mail_domain,
            "contracts": [{"id": k.id, "name": k.name, "package": k.package, "timezone": k.timezone,
                           "working_hours": k.working_hours, "holiday_country": k.holiday_country,
                           "no_answer_threshold_seconds": k.no_answer_threshold_seconds,
                           "ack_timeout_minutes": k.ack_timeout_minutes,
                           "valid_from": k.valid_from.isoformat(),
                           "valid_to": k.valid_to.isoformat() if k.valid_to else None,
                           "sla_targets": [{"category": t.category, "response_minutes": t.response_minutes,
                                            "clock": t.clock} for t in k.sla_targets]} for k in c.contracts],
            "assets": [{"id": a.id, "identifier": a.identifier, "kind": a.kind, "model": a.model,
                        "location": a.location, "composition": a.composition} for a in c.assets]}


def _contact_json(c: Contact) -> dict:
    return {"id": c.id, "company_id": c.company_id, "name": c.name, "email": c.email, "phone": c.phone,
            "mobile": c.mobile, "language": c.language, "role": c.role, "level": c.level,
            "can_authorize": c.can_authorize, "location": c.location}


@api.get("/companies")
@token_required()
def list_companies():  # noqa: ANN201
    rows = db_session().scalars(select(Company).order_by(Company.name))
    return jsonify(items=[_company_json(c) for c in rows])


@api.get("/companies/<int:company_id>")
@token_required()
def show_company(company_id: int):  # noqa: ANN201
    company = db_session().get(Company, company_id)
    if company is None:
        raise ApiError(404, f"no company {company_id}")
    data = _company_json(company)
    data["contacts"] = [_contact_json(c) for c in company.contacts]
    return jsonify(data)


@api.get("/contacts")
@token_required()
def list_contacts():  # noqa: ANN201
    stmt = select(Contact).order_by(Contact.name)
    if request.args.get("email"):
        stmt = stmt.where(func.lower(Contact.email) == request.args["email"].lower())
    if request.args.get("company_id"):
        stmt = stmt.where(Contact.company_id == _int_arg("company_id"))
    return jsonify(items=[_contact_json(c) for c in db_session().scalars(stmt)])


@api.get("/openapi.json")
def openapi():  # noqa: ANN201
    from .openapi import build_openapi

    return jsonify(build_openapi())
