"""Agents' desk (availability, screen-pop, wrap-up, callbacks) and the managers' wallboard.

Thin views over `callcenter.agents` and `callcenter.callbacks`; the screen-pop and the
wallboard poll small JSON endpoints, so they change without a page reload.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import agents, callbacks, tickets
from ..models import (
    OPEN_OFFER_STATUSES,
    OPEN_STATUSES,
    Agent,
    AgentState,
    Asset,
    Call,
    CallOffer,
    Channel,
    Company,
    Contact,
    Contract,
    StaffUser,
    Ticket,
)
from .common import actor, now
from .db import db_session
from .formats import hours, local_time, wait
from .labels import LABELS, label
from .login import csrf_check, roles_required
from .navigation import add_nav_item

bp = Blueprint("agents", __name__)
bp.before_request(csrf_check)

DESK_ROLES = ("agent", "engineer", "manager")
BOARD_ROLES = ("manager",)
CONSOLE_STATES = [AgentState.AVAILABLE, AgentState.AWAY, AgentState.OFFLINE]
# The wallboard's "agents by state" tiles, in the order a supervisor reads them.
BOARD_STATES = [AgentState.AVAILABLE, AgentState.ON_CALL, AgentState.WRAP_UP, AgentState.AWAY, AgentState.OFFLINE]


def init_agents(app: Flask) -> None:
    app.register_blueprint(bp)
    LABELS.update({
        "available": _l("Available"), "on_call": _l("On a call"), "wrap_up": _l("Wrap-up"), "away": _l("Away"),
        "offline": _l("Offline"), "solved_on_phone": _l("Solved on the phone"),
        "ticket_updated": _l("Ticket updated"), "ticket_opened": _l("Ticket opened"),
        "callback_needed": _l("Callback needed"), "wrong_number": _l("Wrong number"), "other": _l("Other"),
    })
    add_nav_item("agents.desk", _l("Desk"), set(DESK_ROLES), 15)
    add_nav_item("agents.wallboard", _l("Wallboard"), set(BOARD_ROLES), 16)


def _me(db: Session) -> StaffUser:
    return db.get(StaffUser, current_user.record_id)


def _call_or_404(db: Session, call_id: int) -> Call:
    call = db.get(Call, call_id)
    if call is None:
        abort(404)
    return call


@bp.get("/agent")
@roles_required(*DESK_ROLES)
def desk():  # noqa: ANN201
    db = db_session()
    agent = agents.agent_for(db, current_user.record_id, now())
    db.commit()
    missed = [_missed_row(db, c) for c in agents.callback_list(db)]
    return render_template("agent_desk.html", agent=agent, states=CONSOLE_STATES, missed=missed,
                           outcomes=agents.WRAP_UP_OUTCOMES)


@bp.post("/agent/state")
@roles_required(*DESK_ROLES)
def change_state():  # noqa: ANN201
    db = db_session()
    state = request.form.get("state", "")
    if state not in CONSOLE_STATES:
        flash(_("Unknown state."), "error")
        return redirect(url_for("agents.desk"))
    try:
        agents.set_state(db, agents.agent_for(db, current_user.record_id, now()), state, now(), "console")
        db.commit()
    except agents.AgentError as exc:
        db.rollback()
        flash(str(exc), "error")
    return redirect(url_for("agents.desk"))


def _ticket_row(t: Ticket) -> dict:
    return {"number": t.number, "subject": t.subject, "status": t.status, "priority": t.priority,
            "category": t.category, "status_label": str(label(t.status)), "priority_label": str(label(t.priority)),
            "category_label": str(label(t.category)), "url": url_for("console.ticket", number=t.number)}


def _waited(call: Call, at: datetime) -> int | None:
    """The caller's wait in the queue: as measured once answered or gone, else so far."""
    if call.wait_seconds is not None:
        return call.wait_seconds
    if call.queue_entered_at is not None:
        return max(0, int((at - call.queue_entered_at).total_seconds()))
    return None


def screen_pop(db: Session, call: Call) -> dict:
    """Everything about the caller an agent needs the moment they take the call."""
    contact = db.get(Contact, call.contact_id) if call.contact_id else None
    company = db.get(Company, call.company_id) if call.company_id else None
    contract = db.get(Contract, call.contract_id) if call.contract_id else None
    asset = db.get(Asset, call.asset_id) if call.asset_id else None
    ivr_ticket = db.get(Ticket, call.ticket_id) if call.ticket_id else None
    open_tickets = list(db.scalars(select(Ticket).where(Ticket.company_id == call.company_id,
                                                        Ticket.status.in_(list(OPEN_STATUSES)))
                                   .order_by(Ticket.created_at.desc()).limit(20))) if company else []
    faults = list(db.scalars(select(Ticket).where(Ticket.asset_id == asset.id)
                             .order_by(Ticket.created_at.desc()).limit(5))) if asset else []
    return {
        "call_id": call.id, "caller": call.caller_number, "menu": call.menu_path,
        "answered_at": call.answered_at.isoformat() if call.answered_at else None,
        "waited": call.wait_seconds, "waited_text": wait(call.wait_seconds),
        "contact": {"name": contact.name, "role": contact.role, "level": contact.level,
                    "can_authorize": contact.can_authorize, "email": contact.email} if contact else None,
        "company": {"name": company.name, "url": url_for("console.company", company_id=company.id)}
        if company else None,
        "contract": {"name": contract.name, "package": contract.package,
                     "package_label": str(label(contract.package)),
                     "sla": [{"category": t.category, "category_label": str(label(t.category)),
                              "minutes": t.response_minutes, "target_text": hours(t.response_minutes / 60, 1)}
                             for t in contract.sla_targets]}
        if contract else None,
        "asset": {"identifier": asset.identifier, "model": asset.model, "location": asset.location} if asset else None,
        "asset_faults": [_ticket_row(t) for t in faults],
        "open_tickets": [_ticket_row(t) for t in open_tickets],
        "ivr_ticket": _ticket_row(ivr_ticket) if ivr_ticket else None,
        "link_url": url_for("agents.link_call", call_id=call.id),
        "open_url": url_for("agents.open_ticket", call_id=call.id),
        "wrap_up_url": url_for("agents.wrap_up", call_id=call.id),
    }


@bp.get("/agent/screen-pop.json")
@roles_required(*DESK_ROLES)
def screen_pop_json():  # noqa: ANN201
    db = db_session()
    agent = agents.agent_for(db, current_user.record_id, now())
    db.commit()
    call = db.get(Call, agent.current_call_id) if agent.current_call_id else None
    return jsonify(state=agent.state, state_label=str(LABELS.get(agent.state, agent.state)),
                   state_seconds=int((now() - agent.state_since).total_seconds()),
                   call=screen_pop(db, call) if call else None)


def _brief(db: Session, call: Call, at: datetime) -> dict:
    contact = db.get(Contact, call.contact_id) if call.contact_id else None
    company = db.get(Company, call.company_id) if call.company_id else None
    waited = _waited(call, at)
    return {"id": call.id, "caller": contact.name if contact else (call.caller_number or ""),
            "number": call.caller_number or "", "company": company.name if company else "",
            "waited": waited, "waited_text": wait(waited)}


@bp.get("/agent/notify.json")
@roles_required(*DESK_ROLES)
def notify_json():  # noqa: ANN201
    """What every console page's call notice shows: a call offered to me (ringing) or the one I am on.

    Read-only and a few primary-key reads, as it is polled from every open console tab.
    """
    db, at = db_session(), now()
    agent = db.scalar(select(Agent).where(Agent.staff_id == current_user.record_id))
    if agent is None:
        return jsonify(state=None, offered=None, call=None)
    offered = None
    if agent.offer_id is not None and agent.offer_id > 0:  # -1 is a claim in progress
        offer = db.get(CallOffer, agent.offer_id)
        call = db.get(Call, offer.call_id) if offer is not None and offer.status in OPEN_OFFER_STATUSES else None
        if call is not None and call.answered_at is None:
            offered = _brief(db, call, at)
    current = db.get(Call, agent.current_call_id) if agent.current_call_id else None
    return jsonify(state=agent.state, state_label=str(LABELS.get(agent.state, agent.state)), offered=offered,
                   call=_brief(db, current, at) if current is not None else None)


@bp.post("/agent/calls/<int:call_id>/link")
@roles_required(*DESK_ROLES)
def link_call(call_id: int):  # noqa: ANN201
    db = db_session()
    call = _call_or_404(db, call_id)
    try:
        ticket = tickets.get_ticket(db, request.form.get("number", "").strip().lstrip("#"))
        agents.link_ticket(db, call, ticket)
        db.commit()
        flash(_("Call linked to ticket #%(number)s.", number=ticket.number), "ok")
    except (tickets.TicketNotFound, tickets.TicketError, agents.AgentError, ValueError) as exc:
        db.rollback()
        flash(str(exc) or _("No such ticket."), "error")
    return redirect(url_for("agents.desk"))


@bp.post("/agent/calls/<int:call_id>/ticket")
@roles_required(*DESK_ROLES)
def open_ticket(call_id: int):  # noqa: ANN201
    db = db_session()
    call = _call_or_404(db, call_id)
    subject = request.form.get("subject", "").strip() or _("Hotline call")
    ticket = tickets.create_ticket(db, tickets.NewTicket(
        subject=subject, channel=Channel.PHONE, category=request.form.get("category", "user"),
        priority=request.form.get("priority", "normal"), description=f"Opened from hotline call {call.id}.",
        company_id=call.company_id, reporter_contact_id=call.contact_id, reporter_phone=call.caller_number,
        asset_id=call.asset_id), actor=actor(), now=now())
    agents.link_ticket(db, call, ticket)
    db.commit()
    flash(_("Ticket #%(number)s opened for the call.", number=ticket.number), "ok")
    return redirect(url_for("agents.desk"))


@bp.post("/agent/calls/<int:call_id>/wrap-up")
@roles_required(*DESK_ROLES)
def wrap_up(call_id: int):  # noqa: ANN201
    db = db_session()
    call = _call_or_404(db, call_id)
    form = request.form
    try:
        number = form.get("number", "").strip().lstrip("#")
        ticket = tickets.get_ticket(db, number) if number else None
        agents.wrap_up(db, call, _me(db), now=now(), outcome=form.get("outcome", ""), ticket=ticket,
                       minutes=int(form.get("minutes") or 0), quick_phone_answer=bool(form.get("quick")),
                       note=form.get("note") or None)
        db.commit()
        flash(_("Wrap-up saved."), "ok")
    except (tickets.TicketNotFound, agents.AgentError, ValueError) as exc:
        db.rollback()
        flash(str(exc), "error")
    return redirect(url_for("agents.desk"))


def _missed_row(db: Session, call: Call) -> dict:
    contact = db.get(Contact, call.contact_id) if call.contact_id else None
    company = db.get(Company, call.company_id) if call.company_id else None
    return {"id": call.id, "who": contact.name if contact else call.caller_number, "number": call.caller_number,
            "company": company.name if company else "", "at": call.arrived_at, "waited": call.wait_seconds,
            "menu": call.menu_path, "outcome": call.outcome, "state": call.callback_state}


@bp.post("/agent/callbacks/<int:call_id>")
@roles_required(*DESK_ROLES)
def call_back(call_id: int):  # noqa: ANN201
    db = db_session()
    call = _call_or_404(db, call_id)
    try:
        if request.form.get("dismiss"):
            agents.dismiss_callback(db, call)
        else:
            callbacks.start_callback(db, call, _me(db), now())
            flash(_("Your phone will ring first, then the customer is dialled."), "ok")
        db.commit()
    except callbacks.CallbackError as exc:
        db.rollback()
        flash(str(exc), "error")
    return redirect(url_for("agents.desk"))


@bp.get("/wallboard")
@roles_required(*BOARD_ROLES)
def wallboard():  # noqa: ANN201
    return render_template("wallboard.html", states=BOARD_STATES)


def _day_start(at: datetime) -> datetime:
    zone = ZoneInfo("Europe/Budapest")
    return datetime.combine(at.astimezone(zone).date(), time(0), tzinfo=zone)


@bp.get("/wallboard.json")
@roles_required(*BOARD_ROLES)
def wallboard_json():  # noqa: ANN201
    b = agents.board(db_session(), now(), _day_start(now()))
    counts = {state: 0 for state in BOARD_STATES}
    for a in b.agents:
        counts[a.state] = counts.get(a.state, 0) + 1
    longest = max((w.waited for w in b.waiting), default=None)
    share = round(100 * b.answered_within_threshold / b.answered_today) if b.answered_today else None
    return jsonify(
        waiting=[{"caller": w.caller, "company": w.company, "waited": w.waited, "waited_text": wait(w.waited),
                  "offered_to": w.offered_to} for w in b.waiting],
        agents=[{"name": a.name, "state": a.state, "state_label": str(LABELS.get(a.state, a.state)),
                 "seconds": a.seconds, "for_text": wait(a.seconds)} for a in b.agents],
        by_state=[{"state": state, "label": str(LABELS.get(state, state)), "count": n} for state, n in counts.items()],
        waiting_count=len(b.waiting), longest_wait=longest, longest_wait_text=wait(longest) if longest else "0:00",
        answered_today=b.answered_today, answered_within_threshold=b.answered_within_threshold,
        within_share=share, missed_today=b.missed_today,
        # "updated 10:30:05" from the server, in the viewer's zone on a 24-hour clock (not the wall PC's clock)
        updated=local_time(now(), fmt="%H:%M:%S"))
