"""The ticket page's composer and sidebar: one Update for message, status, level, assignee and time;
priority, category, machine and company edited in place; the ticket's timeline with the mails we sent.

Registered on the console blueprint (`console.py` imports this module), so endpoint names stay
`console.*`. The older single-purpose forms (`console.ticket_status`, `console.ticket_note`, ...) stay
for scripts and tests that post to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import abort, flash, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import ticket_work
from .. import tickets as svc
from ..models import OutboundMail, OutboxMessage, Ticket, TicketEvent
from .common import actor, now
from .db import db_session
from .labels import label
from .params import int_arg

# What each kind of mail we send is, in the timeline (the codes are mail.outbound's).
MAIL_KINDS = {"auto_reply": _l("automatic reply"), "phase": _l("ticket update"),
              "approval_request": _l("approval request"), "approval_decided": _l("approval decision")}
DONE_LABELS = {
    "reopened": lambda: _("reopened"), "level": lambda: _("level changed"), "assignee": lambda: _("assignee changed"),
    "status": lambda: _("status changed"), "reply": lambda: _("reply sent to the customer"),
    "note": lambda: _("internal note added"), "time": lambda: _("time logged"),
}


@dataclass(frozen=True)
class MailItem:
    """A mail we queued about the ticket, as the timeline shows it: to whom, what, and how far it got."""

    at: datetime
    kind: str
    kind_label: str
    to: str
    state: str
    error: str | None
    sent_at: datetime | None


def ticket_timeline(db: Session, ticket: Ticket, events: list[TicketEvent]) -> list[tuple[str, datetime, object]]:
    """Events and outgoing mails in one list, oldest first: ("event", at, event) or ("mail", at, MailItem)."""
    rows = db.execute(select(OutboundMail, OutboxMessage)
                      .outerjoin(OutboxMessage, OutboxMessage.id == OutboundMail.outbox_id)
                      .where(OutboundMail.ticket_id == ticket.id)
                      .order_by(OutboundMail.created_at, OutboundMail.id)).all()
    items: list[tuple[str, datetime, object]] = [("event", e.at, e) for e in events]
    for mail, outbox in rows:
        items.append(("mail", mail.created_at, MailItem(
            at=mail.created_at, kind=mail.kind, kind_label=str(MAIL_KINDS.get(mail.kind, mail.kind)),
            to=mail.to_address, state=outbox.state if outbox else "unknown",
            error=(outbox.last_error or outbox.error_code) if outbox else None,
            sent_at=outbox.sent_at if outbox else None)))
    # Stable: a mail queued in the same transaction as its event sorts after it.
    return sorted(items, key=lambda item: (item[1], 0 if item[0] == "event" else 1))


def _ticket(number: int) -> Ticket:
    if not current_user.can_work:
        abort(403)
    ticket = db_session().scalar(select(Ticket).where(Ticket.number == number))
    if ticket is None:
        abort(404)
    return ticket


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _update_from_form() -> ticket_work.WorkUpdate:
    f = request.form
    assignee_raw = f.get("assignee", ticket_work.KEEP)
    if assignee_raw == ticket_work.KEEP:
        assignee: int | None | str = ticket_work.KEEP
    elif assignee_raw == "me":
        assignee = current_user.record_id
    elif assignee_raw == "":
        assignee = None
    else:
        assignee = int_arg("assignee")
    return ticket_work.WorkUpdate(
        body=f.get("body", ""), public=f.get("visibility") == "public",
        status=f.get("status") or None, resolution=f.get("resolution") or None, level=f.get("level") or None,
        assignee=assignee, hours=ticket_work.parse_hours(f.get("hours")),
        quick_phone_answer=bool(f.get("quick_phone_answer")))


def register(bp, render_page) -> None:  # noqa: ANN001
    """Add the composer's and the sidebar's endpoints to the console blueprint; `render_page(number, form=...)`
    renders the ticket page (with a refused update's values kept)."""

    @bp.post("/console/tickets/<int:number>/update")
    @login_required
    def ticket_update(number: int):  # noqa: ANN202
        db = db_session()
        t = _ticket(number)
        try:
            done = ticket_work.apply_update(db, t, _update_from_form(), actor=actor(), now=now())
        except svc.TicketError as exc:
            db.rollback()
            if _wants_json():
                return jsonify(ok=False, error=str(exc)), 422
            flash(str(exc), "error")
            return render_page(number, form=request.form), 400  # what was typed stays in the composer
        db.commit()
        message = _("Updated: %(what)s.", what=", ".join(str(DONE_LABELS[d]()) for d in done))
        if _wants_json():
            return jsonify(ok=True, message=message)
        flash(message, "ok")
        return redirect(url_for("console.ticket", number=number, _anchor="composer"))

    @bp.post("/console/tickets/<int:number>/field")
    @login_required
    def ticket_field(number: int):  # noqa: ANN202
        db = db_session()
        t = _ticket(number)
        name = request.form.get("field", "")
        try:
            ticket_work.edit_field(db, t, name, request.form.get("value"), actor=actor(), now=now())
        except svc.TicketError as exc:
            db.rollback()
            if _wants_json():
                return jsonify(ok=False, error=str(exc)), 422
            flash(str(exc), "error")
            return redirect(url_for("console.ticket", number=number, _anchor="details"))
        db.commit()
        shown = {"priority": lambda: label(t.priority), "category": lambda: label(t.category),
                 "asset_id": lambda: t.asset.identifier if t.asset else "—",
                 "company_id": lambda: t.company.name if t.company else "—"}[name]()
        if _wants_json():
            return jsonify(ok=True, field=name, shown=str(shown), reload=name == "company_id")
        flash(_("Saved."), "ok")
        return redirect(url_for("console.ticket", number=number, _anchor="details"))
