"""The customer portal: a contact's own views over `callcenter.customer_portal`.

Customers never see the staff console's pages: their tickets with the public conversation only,
a reply box with files, the requests waiting for their approval at the top, and their calls.
File downloads for staff and customers are here too (one place decides who may fetch a file).
"""

from __future__ import annotations

import io

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from .. import customer_portal as portal
from ..attachments import Upload
from ..customers import contract_at
from ..models import Approval, Company, Contact, Ticket, TicketAttachment
from ..tickets import TicketError
from .common import now
from .db import db_session
from .login import csrf_check, roles_required

bp = Blueprint("portal", __name__, url_prefix="/portal")
bp.before_request(csrf_check)


def _contact() -> Contact:
    contact = db_session().get(Contact, current_user.record_id)
    if contact is None or not contact.active:
        abort(403)
    return contact


def _zone(company: Company) -> str:
    contract = contract_at(company, now())
    return contract.timezone if contract is not None else "Europe/Budapest"


def _own_ticket(number: int) -> Ticket:
    ticket = db_session().scalar(select(Ticket).where(Ticket.number == number,
                                               Ticket.company_id == current_user.company_id))
    if ticket is None:
        abort(404)
    return ticket


@bp.get("/")
@roles_required("customer")
def home():  # noqa: ANN201
    db = db_session()
    contact = _contact()
    tickets = portal.company_tickets(db, contact.company_id)
    return render_template("portal_home.html", contact=contact, approvals=portal.pending_approvals(db, contact),
                           tickets=tickets, last_change=portal.last_public_change(db, tickets),
                           tz=_zone(contact.company))


@bp.get("/tickets/<int:number>")
@roles_required("customer")
def ticket(number: int):  # noqa: ANN201
    db = db_session()
    contact = _contact()
    t = _own_ticket(number)
    return render_template("portal_ticket.html", t=t, entries=portal.conversation(db, t), contact=contact,
                           approvals=portal.ticket_approvals(t), tz=_zone(contact.company),
                           max_mb=current_app.config["SETTINGS"].mail_max_attachment_bytes // (1024 * 1024))


@bp.post("/tickets/<int:number>/reply")
@roles_required("customer")
def reply(number: int):  # noqa: ANN201
    db = db_session()
    contact = _contact()
    t = _own_ticket(number)
    uploads = [Upload(f.filename or "attachment", f.mimetype or "", f.read())
               for f in request.files.getlist("files") if f and f.filename]
    try:
        portal.reply(db, t, contact, request.form.get("body", ""), uploads, now=now(),
                     max_bytes=current_app.config["SETTINGS"].mail_max_attachment_bytes)
    except TicketError as exc:
        db.rollback()
        flash(_("Your message was not sent: %(reason)s", reason=str(exc)), "error")
        return redirect(url_for("portal.ticket", number=number, _anchor="reply"))
    db.commit()
    flash(_("Your message was added to ticket %(number)s.", number=t.display_number), "ok")
    return redirect(url_for("portal.ticket", number=number, _anchor="conversation-end"))


@bp.post("/approvals/<int:approval_id>")
@roles_required("customer")
def decide(approval_id: int):  # noqa: ANN201
    db = db_session()
    contact = _contact()
    approval = db.get(Approval, approval_id)
    if approval is None or approval.ticket.company_id != contact.company_id:
        abort(404)
    decision = request.form.get("decision")
    if decision not in {"approve", "deny"}:
        abort(400, _("Choose Approve or Deny."))
    try:
        portal.decide(db, approval, contact, decision == "approve", now=now(),
                      comment=request.form.get("comment", ""))
    except TicketError as exc:
        db.rollback()
        flash(str(exc), "error")
    else:
        db.commit()
        flash(_("Thank you: the request on ticket %(number)s is %(decision)s.", number=approval.ticket.display_number,
                decision=_("approved") if decision == "approve" else _("denied")), "ok")
    back = request.form.get("back") or ""
    return redirect(back if back.startswith("/portal/") else url_for("portal.home"))


@bp.get("/calls")
@roles_required("customer")
def calls():  # noqa: ANN201
    contact = _contact()
    return render_template("portal_calls.html", calls=portal.company_calls(db_session(), contact.company_id),
                           tz=_zone(contact.company))


@bp.get("/files/<int:attachment_id>")
@login_required
def attachment(attachment_id: int):  # noqa: ANN201
    """A message's file: staff may fetch any, a customer only those of their company's public messages."""
    db = db_session()
    att = db.get(TicketAttachment, attachment_id)
    if att is None:
        abort(404)
    if current_user.is_customer and not portal.attachment_visible(db, att, current_user.company_id):
        abort(404)
    if not current_user.is_customer and not current_user.is_staff:
        abort(403)
    # Served as a download, never rendered inline: a customer's HTML file must not run on our origin.
    response = send_file(io.BytesIO(att.data), mimetype="application/octet-stream", as_attachment=True,
                         download_name=att.filename, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
