"""Calls in the console: the call log, a call with its recordings and QA reviews, recording playback
(audited), legal hold, the recording audit trail, and the PBX maintainers' fault calls per machine.

Thin views over `callcenter.call_review`; who may see and hear what is decided there (`may_see_call`,
`may_hear`), so the pages, the audio endpoint and the tests share one rule.
"""

from __future__ import annotations

import mimetypes
from datetime import date

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select

from .. import call_review as svc
from ..models import REVIEW_CRITERIA, CallChannel, CallOutcome, Company, RecordingStatus, StaffUser, Ticket
from ..validation import InvalidInput
from .common import now
from .db import db_session
from .login import csrf_check, roles_required
from .navigation import STAFF, add_nav_item
from .params import int_arg

bp = Blueprint("calls", __name__)
bp.before_request(csrf_check)

add_nav_item("calls.log", _l("Calls"), STAFF, 45)  # customers have portal.calls
add_nav_item("calls.faults", _l("Fault calls"), STAFF, 46)
add_nav_item("calls.reviews", _l("QA reviews"), {"qa", "manager", "admin"}, 47)

CRITERIA_LABELS = {"greeting": _l("Greeting"), "identification": _l("Identification"),
                   "problem_capture": _l("Problem capture"), "solution": _l("Solution"), "courtesy": _l("Courtesy")}


def viewer() -> svc.Viewer:
    return svc.Viewer(current_user.kind, current_user.record_id, current_user.name, current_user.role,
                      current_user.company_id)


def _int_arg(name: str) -> int | None:
    """An id or number from the query or form: None when absent, 400 when malformed or out of range."""
    return int_arg(name)


def _date_arg(name: str) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"parameter {name} must be a date (YYYY-MM-DD)") from None


@bp.get("/console/calls")
@login_required
def log():  # noqa: ANN201
    if current_user.is_customer:
        return redirect(url_for("portal.calls"))
    db = db_session()
    flt = svc.CallFilter(
        company_id=_int_arg("company"), channel=request.args.get("channel") or None,
        state=request.args.get("state") if request.args.get("state") in svc.CALL_STATES else None,
        outcome=request.args.get("outcome") or None, asset_id=_int_arg("asset"),
        caller=(request.args.get("caller") or "").strip() or None, since=_date_arg("since"),
        until=_date_arg("until"), with_recording=bool(request.args.get("recorded")),
    )
    page = max(1, _int_arg("page") or 1)
    rows, total = svc.list_calls(db, flt, viewer(), now=now(), page=page)
    companies = [] if current_user.is_customer else db.scalars(select(Company).order_by(Company.name)).all()
    return render_template("calls.html", rows=rows, total=total, page=page, args=request.args, companies=companies,
                           states=svc.CALL_STATES, outcomes=[o.value for o in CallOutcome],
                           channels=[c.value for c in CallChannel])


def _call_or_404(call_id: int):  # noqa: ANN202
    call = svc.visible_call(db_session(), call_id, viewer())
    if call is None:
        abort(404)
    return call


@bp.get("/console/calls/<int:call_id>")
@login_required
def detail(call_id: int):  # noqa: ANN201
    db = db_session()
    call = _call_or_404(call_id)
    v = viewer()
    ticket = db.get(Ticket, call.ticket_id) if call.ticket_id else None
    if ticket is not None and v.is_customer and ticket.company_id != v.company_id:
        ticket = None
    reviews = svc.reviews_for_call(db, call.id) if not v.is_customer else []
    audit = svc.audit_trail(db, call_id=call.id, limit=50) if svc.may_hold(v) else []
    agent = db.get(StaffUser, call.agent_id) if call.agent_id else None
    return render_template(
        "call.html", c=call, state=svc.call_state(call), ticket=ticket, reviews=reviews, audit=audit,
        agent=agent, talk=svc.talk_seconds(call.answered_at, call.ended_at, call.talk_seconds),
        has_audio=svc.has_audio(call),
        can_hear=svc.may_hear(v, call), can_review=svc.may_review(v), can_hold=svc.may_hold(v),
        criteria=REVIEW_CRITERIA, criteria_labels=CRITERIA_LABELS, deleted=RecordingStatus.DELETED,
        stored=RecordingStatus.STORED,
    )


@bp.get("/console/recordings/<int:recording_id>/audio")
@login_required
def audio(recording_id: int):  # noqa: ANN201
    """The recording's file with HTTP Range support (the <audio> element seeks with Range requests).

    Audited once per playback: the first request of a playback asks for the start of the file (no
    Range, or a Range from byte 0); the seeks and continuations that follow are not new playbacks.
    The call page's player has preload="none", so the browser asks for nothing until the user
    presses play: opening the page is not a playback and leaves no trace here.
    """
    db = db_session()
    v = viewer()
    rec = svc.visible_recording(db, recording_id, v)
    if rec is None:
        abort(404)
    if not svc.may_hear(v, rec.call):
        abort(403)
    if rec.status == RecordingStatus.DELETED:
        abort(410, "this recording was deleted under the retention rules")
    if rec.status != RecordingStatus.STORED or not rec.local_path:
        abort(404, "the recording is not in the store (yet)")
    store = current_app.config["SETTINGS"].recordings_path.resolve()
    path = (store / rec.local_path).resolve()
    if store not in path.parents or not path.is_file():
        abort(404, "the recording's file is missing from the store")
    download = bool(request.args.get("download"))
    ranges = request.range.ranges if request.range is not None else None
    if download or not ranges or ranges[0][0] == 0:
        svc.record_access(db, rec, v, "download" if download else "play", now=now(),
                          remote_addr=request.remote_addr, user_agent=request.headers.get("User-Agent"))
        db.commit()
    mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if mimetype == "audio/x-wav":
        mimetype = "audio/wav"
    response = send_file(path, mimetype=mimetype, conditional=True, as_attachment=download,
                         download_name=f"call-{rec.call_id}-{rec.id}{path.suffix}", max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/console/calls/<int:call_id>/reviews")
@login_required
def review(call_id: int):  # noqa: ANN201
    db = db_session()
    call = _call_or_404(call_id)
    if not svc.may_review(viewer()):
        abort(403)
    reviewer = db.get(StaffUser, current_user.record_id)
    try:
        svc.submit_review(db, call, reviewer, {c: request.form.get(c, "") for c in REVIEW_CRITERIA},
                          request.form.get("comment", ""), now=now())
    except svc.ReviewError as exc:
        db.rollback()
        flash(str(exc), "error")
        return redirect(url_for("calls.detail", call_id=call_id))
    db.commit()
    flash(_("Review saved."), "ok")
    return redirect(url_for("calls.detail", call_id=call_id))


@bp.post("/console/calls/<int:call_id>/hold")
@login_required
def hold(call_id: int):  # noqa: ANN201
    db = db_session()
    call = _call_or_404(call_id)
    if not svc.may_hold(viewer()):
        abort(403)
    on = request.form.get("hold") == "on"
    try:
        svc.set_legal_hold(db, call, on, reason=request.form.get("reason", ""), by=viewer(), now=now())
    except svc.ReviewError as exc:
        db.rollback()
        flash(str(exc), "error")
    else:
        db.commit()
        flash(_("Legal hold set.") if on else _("Legal hold lifted."), "ok")
    return redirect(url_for("calls.detail", call_id=call_id))


@bp.get("/console/calls/reviews")
@roles_required("qa", "manager", "admin")
def reviews():  # noqa: ANN201
    db = db_session()
    company_id = _int_arg("company")
    overall, per_company = svc.review_averages(db, company_id=company_id)
    return render_template("call_reviews.html", overall=overall, per_company=per_company,
                           per_agent=svc.review_averages_per_agent(db, company_id=company_id),
                           recent=svc.recent_reviews(db, company_id=company_id), criteria=REVIEW_CRITERIA,
                           criteria_labels=CRITERIA_LABELS, company_id=company_id,
                           companies=db.scalars(select(Company).order_by(Company.name)).all())


@bp.get("/console/recordings/audit")
@roles_required("manager", "admin")
def audit():  # noqa: ANN201
    return render_template("recording_audit.html", entries=svc.audit_trail(db_session(), limit=500))


@bp.get("/console/faults")
@roles_required(*STAFF)
def faults():  # noqa: ANN201
    return render_template("faults.html", rows=svc.fault_calls_per_asset(db_session()))


@bp.get("/console/assets/<int:asset_id>/faults")
@roles_required(*STAFF)
def asset_faults(asset_id: int):  # noqa: ANN201
    found = svc.asset_faults(db_session(), asset_id)
    if found is None:
        abort(404)
    return render_template("asset_faults.html", f=found, a=found.asset, deleted=RecordingStatus.DELETED,
                           stored=RecordingStatus.STORED)
