"""On-call in the console: who is on call now and in the coming weeks, overrides, and the alerts
with their delivery trail and acknowledge / escalate / resolve buttons (live, without reloads).

The open alerts read like a pager: one card per alert, newest first and staying in place when
acknowledged, with who is being paged now at which step, urgency colours, Acknowledge first, and
several alerts acknowledged at once."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, jsonify, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..models import Alert, AlertStatus, Page, Rotation, StaffUser
from ..paging import alerts as svc
from ..paging.rotations import RotationError, add_override, schedule, who_is_on_call
from ..validation import int_or_none
from .alert_trail import alert_summary
from .api_alerts import alert_json
from .common import now
from .db import db_session
from .formats import local_time
from .login import csrf_check, roles_required, safe_next
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
    # Newest first and nothing else: an alert keeps its place when acknowledged (it used to jump
    # below the triggered ones, away from the finger that pressed the button).
    return list(db_session().scalars(
        select(Alert).where(Alert.status.in_([AlertStatus.TRIGGERED, AlertStatus.ACKNOWLEDGED]))
        .order_by(Alert.created_at.desc(), Alert.id.desc()).limit(200)))


def _pager_cards(alerts: list[Alert]) -> list[dict]:
    """Each open alert with who is being paged now (the current round, loop and step) and the step count."""
    if not alerts:
        return []
    paged: dict[int, list[Page]] = {}
    for p in db_session().scalars(select(Page).where(Page.alert_id.in_([a.id for a in alerts]))
                                  .options(joinedload(Page.staff)).order_by(Page.id)):
        paged.setdefault(p.alert_id, []).append(p)
    cards = []
    for a in alerts:
        pages = paged.get(a.id, [])
        current = [p for p in pages if (p.round, p.loop, p.step) == (a.ack_timeouts, a.loop, a.step)]
        if not current and pages:  # between steps: the last people paged are still the ones holding it
            last = pages[-1]
            current = [p for p in pages if (p.round, p.loop, p.step) == (last.round, last.loop, last.step)]
        snapshot = a.policy_snapshot or {}
        cards.append({"alert": a, "paging": sorted({p.staff.name for p in current}),
                      "steps": len(snapshot.get("steps") or []) or None,
                      "urgency": a.severity if a.severity in {"critical", "high", "low", "info"} else "critical"})
    return cards


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
    return render_template("oncall.html", rotations=rotations, weeks=weeks_n, cards=_pager_cards(_open_alerts()),
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
    return render_template("alert.html", alert=row, data=alert_json(row, full=True), card=_pager_cards([row])[0])


@bp.get("/oncall/alerts")
@roles_required(*STAFF_ROLES)
def alert_cards():  # noqa: ANN201
    """The open alerts' cards alone: the on-call page swaps them in when they change (no reload, no flicker)."""
    response = make_response(render_template("_alert_cards.html", cards=_pager_cards(_open_alerts())))
    # The page writes "updated 10:30:05" from this: the server's time in the viewer's zone, 24-hour,
    # never the browser's own clock.
    response.headers["X-Local-Time"] = local_time(now(), fmt="%H:%M:%S")
    return response


def _back(alert_id: int | None = None) -> str:
    """Back where the button was (the on-call page or the alert's own), scrolled to the alert acted on."""
    default = url_for("oncall.alert", alert_id=alert_id) if alert_id is not None else url_for("oncall.overview")
    target = safe_next(request.form.get("next"), default)
    return f"{target}#alert-{alert_id}" if alert_id is not None else target


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
    if done:
        summary = alert_summary(row.summary)
        messages = {"acknowledge": _("Alert %(id)s acknowledged: %(summary)s", id=row.id, summary=summary),
                    "escalate": _("Alert %(id)s escalated to the next step: %(summary)s", id=row.id,
                                  summary=alert_summary(row.summary)),
                    "resolve": _("Alert %(id)s resolved: %(summary)s", id=row.id, summary=alert_summary(row.summary))}
        flash(messages[action], "ok")
    else:
        flash(_("Nothing to do for alert %(id)s (%(summary)s): it has moved on meanwhile.", id=row.id,
                summary=alert_summary(row.summary)), "error")
    return redirect(_back(alert_id))


@bp.post("/alerts/acknowledge")
@roles_required(*STAFF_ROLES)
def acknowledge_selected():  # noqa: ANN201
    """Acknowledge every selected alert; each is its own transaction, so one refusal stops no other."""
    session, me = db_session(), _me()
    ids = sorted({n for v in request.form.getlist("alert_id") if (n := int_or_none(v)) is not None})
    done, skipped = [], []
    for alert_id in ids:
        row = session.get(Alert, alert_id)
        if row is None:
            continue
        try:
            ok = svc.acknowledge(session, row, staff=me, channel="web", now=now())
            session.commit()
        except svc.AlertForbidden:
            session.rollback()
            ok = False
        (done if ok else skipped).append(f"{row.id} ({alert_summary(row.summary)})")
    if done:
        flash(_("Acknowledged: %(alerts)s", alerts=", ".join(done)), "ok")
    if skipped:
        flash(_("Not acknowledged (already acknowledged, resolved or not yours): %(alerts)s",
                alerts=", ".join(skipped)), "error")
    if not ids:
        flash(_("Select the alerts to acknowledge first."), "error")
    return redirect(_back(ids[0] if len(ids) == 1 else None))


@bp.get("/alerts.json")
@roles_required(*STAFF_ROLES)
def alerts_json():  # noqa: ANN201
    return jsonify(items=[{**alert_json(a), "url": url_for("oncall.alert", alert_id=a.id)} for a in _open_alerts()])
