"""On-call in the console: who is on call now and in the coming weeks, overrides, and the alerts
with their delivery trail and acknowledge / escalate / resolve buttons (live, without reloads)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from ..models import Alert, AlertStatus, Rotation, StaffUser
from ..paging import alerts as svc
from ..paging.rotations import RotationError, add_override, schedule, who_is_on_call
from .api_alerts import alert_json
from .common import now
from .db import db_session
from .formats import local_time
from .labels import label
from .login import csrf_check, roles_required
from .navigation import STAFF, add_nav_item
from .params import int_arg

bp = Blueprint("oncall", __name__, url_prefix="/console")
bp.before_request(csrf_check)
add_nav_item("oncall.overview", _l("On-call"), STAFF, 60)

STAFF_ROLES = tuple(STAFF)
# Who may change the rota: the people who run it.
ROTA_ROLES = ("manager", "admin")
ACTIONS = {"acknowledge", "escalate", "resolve"}


def _me() -> StaffUser | None:
    return db_session().get(StaffUser, current_user.record_id) if current_user.is_staff else None


def _open_alerts() -> list[Alert]:
    return list(db_session().scalars(
        select(Alert).where(Alert.status.in_([AlertStatus.TRIGGERED, AlertStatus.ACKNOWLEDGED]))
        .order_by(Alert.status.desc(), Alert.created_at.desc(), Alert.id.desc()).limit(200)))


@bp.get("/oncall")
@roles_required(*STAFF_ROLES)
def overview():  # noqa: ANN201
    session, at = db_session(), now()
    weeks_n = int_arg("weeks", 4, high=26)
    staff = {u.id: u for u in session.scalars(select(StaffUser).order_by(StaffUser.name))}
    rotations = []
    for rotation in session.scalars(select(Rotation).order_by(Rotation.name)):
        zone = ZoneInfo(rotation.timezone)
        rotations.append({
            "rotation": rotation,
            "now": who_is_on_call(session, rotation, at),
            "shifts": [(s.start.astimezone(zone), s.end.astimezone(zone), staff.get(s.staff_id), s.override)
                       for s in schedule(rotation, at, at + timedelta(weeks=weeks_n))],
            "overrides": [o for o in rotation.overrides if o.end_at > at],
        })
    recent = svc.list_alerts(session, limit=20)
    return render_template("oncall.html", rotations=rotations, weeks=weeks_n, alerts=_open_alerts(),
                           recent=[a for a in recent if a.status == AlertStatus.RESOLVED][:10],
                           staff=[u for u in staff.values() if u.active and u.phone],
                           can_edit=current_user.can(*ROTA_ROLES))


@bp.post("/oncall/<int:rotation_id>/override")
@roles_required(*ROTA_ROLES)
def override(rotation_id: int):  # noqa: ANN201
    session = db_session()
    rotation = session.get(Rotation, rotation_id)
    staff_id = int_arg("staff_id")
    person = session.get(StaffUser, staff_id) if staff_id is not None else None
    if rotation is None or person is None:
        abort(404)
    zone = ZoneInfo(rotation.timezone)
    try:
        start = datetime.fromisoformat(request.form["start"]).replace(tzinfo=zone)
        end = datetime.fromisoformat(request.form["end"]).replace(tzinfo=zone)
        add_override(session, rotation, person, start, end, now=now(), reason=request.form.get("reason") or None)
        session.commit()
        flash(_("%(name)s covers %(rotation)s from %(start)s to %(end)s.", name=person.name,
                rotation=rotation.name, start=request.form["start"], end=request.form["end"]), "ok")
    except (KeyError, ValueError, RotationError) as exc:
        session.rollback()
        flash(_("Override not saved: %(reason)s", reason=str(exc)), "error")
    return redirect(url_for("oncall.overview"))


@bp.get("/alerts/<int:alert_id>")
@roles_required(*STAFF_ROLES)
def alert(alert_id: int):  # noqa: ANN201
    row = db_session().get(Alert, alert_id)
    if row is None:
        abort(404)
    return render_template("alert.html", alert=row, data=alert_json(row, full=True))


@bp.post("/alerts/<int:alert_id>/<action>")
@roles_required(*STAFF_ROLES)
def act(alert_id: int, action: str):  # noqa: ANN201
    session = db_session()
    row = session.get(Alert, alert_id)
    if row is None or action not in ACTIONS:
        abort(404)
    me, at = _me(), now()
    try:
        if action == "acknowledge":
            done = svc.acknowledge(session, row, staff=me, channel="web", now=at)
        elif action == "escalate":
            done = svc.escalate_now(session, row, staff=me, channel="web", now=at)
        else:
            done = svc.resolve(session, row, staff=me, channel="web", now=at, note=request.form.get("note") or None)
    except svc.AlertForbidden as exc:
        session.rollback()
        abort(403, description=str(exc))
    session.commit()
    flash(_("Done.") if done else _("Nothing to do: the alert has moved on meanwhile."), "ok" if done else "error")
    return redirect(request.form.get("next") or url_for("oncall.alert", alert_id=alert_id))


@bp.get("/alerts.json")
@roles_required(*STAFF_ROLES)
def alerts_json():  # noqa: ANN201
    # updated: the server's time in the viewer's zone, 24-hour, so the page never shows the browser's clock.
    return jsonify(items=[{**alert_json(a), "url": url_for("oncall.alert", alert_id=a.id),
                           "status_label": str(label(a.status, "alert")),
                           "created_local": local_time(a.created_at)} for a in _open_alerts()],
                   updated=local_time(now(), fmt="%H:%M:%S"))
