"""Alerts: raise (one open alert per source and dedup key), acknowledge, escalate now, resolve.

Every action leaves an AlertEvent, so the alert's audit trail shows who was paged, how, what the
provider reported, and who acknowledged through which channel.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import timers
from ..models import Alert, AlertStatus, EscalationPolicy, Page, StaffUser, Ticket
from . import engine
from .permissions import AlertForbidden as AlertForbidden  # re-exported: callers catch alerts.AlertForbidden
from .permissions import require_may_act
from .policies import snapshot

SEVERITIES = ("critical", "high", "low", "info")
SOURCES = ("hotline", "standby", "sla", "api")
OPEN = (AlertStatus.TRIGGERED, AlertStatus.ACKNOWLEDGED)


class AlertError(ValueError):
    pass


class AlertNotFound(LookupError):
    pass


def raise_alert(session: Session, *, source: str, dedup_key: str, summary: str, now: datetime,
                details: str = "", severity: str = "critical", policy: EscalationPolicy | None = None,
                ticket: Ticket | None = None, customer: str | None = None,
                trigger_key: str | None = None) -> tuple[Alert, bool]:
    """Open an alert and start paging; a second raise with the same source and key joins the open one.

    Returns (alert, created). `trigger_key` makes the trigger once-only even after resolution.
    """
    if source not in SOURCES:
        raise AlertError(f"unknown alert source {source!r}")
    if severity not in SEVERITIES:
        raise AlertError(f"unknown severity {severity!r}; expected one of {', '.join(SEVERITIES)}")
    summary = " ".join((summary or "").split())
    if not summary:
        raise AlertError("an alert needs a summary")
    if not dedup_key or len(dedup_key) > 200:
        raise AlertError("dedup_key must be 1 to 200 characters")
    open_key = f"{source}:{dedup_key}"
    existing = _existing(session, open_key, trigger_key)
    if existing is not None:
        engine.record(session, existing, "deduplicated", now, detail=f"raised again: {summary[:200]}")
        return existing, False
    alert = Alert(source=source, dedup_key=dedup_key, open_key=open_key, trigger_key=trigger_key,
                  summary=summary[:300], details=details or "", severity=severity,
                  ticket_id=ticket.id if ticket else None, ticket_number=ticket.number if ticket else None,
                  customer=customer or (ticket.company.name if ticket and ticket.company else None),
                  policy_id=policy.id if policy else None, policy_snapshot=snapshot(policy) if policy else {},
                  status=AlertStatus.TRIGGERED, created_at=now, updated_at=now)
    try:
        with session.begin_nested():
            session.add(alert)
    except IntegrityError:
        # Another transaction opened the same alert a moment ago.
        existing = _existing(session, open_key, trigger_key)
        if existing is None:
            raise
        engine.record(session, existing, "deduplicated", now, detail=f"raised again: {summary[:200]}")
        return existing, False
    engine.record(session, alert, "raised", now,
                  detail=f"{source} {dedup_key}; policy {policy.name if policy else 'none'}")
    engine.start_escalation(session, alert, now)
    return alert, True


def _existing(session: Session, open_key: str, trigger_key: str | None) -> Alert | None:
    found = session.scalar(select(Alert).where(Alert.open_key == open_key))
    if found is None and trigger_key:
        found = session.scalar(select(Alert).where(Alert.trigger_key == trigger_key))
    return found


def get_alert(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise AlertNotFound(f"no alert {alert_id}")
    return alert


def _name(staff: StaffUser | None) -> str:
    return staff.name if staff else "system"


def acknowledge(session: Session, alert: Alert, *, staff: StaffUser | None, channel: str, now: datetime) -> bool:
    """Stop the escalation; False when the alert was not triggered (already acknowledged or resolved).
    AlertForbidden when `staff` may not act on it (permissions.may_act)."""
    require_may_act(session, alert, staff, now)
    alert = engine.lock_alert(session, alert.id)
    if alert.status != AlertStatus.TRIGGERED:
        return False
    alert.status = AlertStatus.ACKNOWLEDGED
    alert.acknowledged_at = now
    alert.acknowledged_by_id = staff.id if staff else None
    alert.ack_channel = channel
    timers.cancel_prefix(session, f"alert:{alert.id}:", now)
    cancelled = engine.cancel_pending_notifications(session, alert, now, "alert acknowledged")
    engine.record(session, alert, "acknowledged", now, staff_id=staff.id if staff else None, channel=channel,
                  detail=f"by {_name(staff)}" + (f"; {cancelled} queued notifications dropped" if cancelled else ""))
    engine.arm_ack_timeout(session, alert, now)
    return True


def escalate_now(session: Session, alert: Alert, *, staff: StaffUser | None, channel: str, now: datetime,
                 expected_step: tuple[int, int] | None = None) -> bool:
    """Page the next step now. Refused (False) when resolved, or when the alert already moved past
    `expected_step` (loop, step) since the message the person answers was sent."""
    require_may_act(session, alert, staff, now)
    alert = engine.lock_alert(session, alert.id)
    if alert.status == AlertStatus.RESOLVED:
        return False
    if expected_step is not None and (alert.loop, alert.step) != expected_step:
        return False
    who = _name(staff)
    if alert.status == AlertStatus.ACKNOWLEDGED:
        reopened = session.execute(update(Alert).where(Alert.id == alert.id,
                                                       Alert.status == AlertStatus.ACKNOWLEDGED)
                                   .values(status=AlertStatus.TRIGGERED, updated_at=now)).rowcount
        if reopened != 1:
            return False
        session.refresh(alert)
    elif engine.fire_now(session, engine.step_key(alert, alert.loop, alert.step), now) is None:
        # The step timer already fired: either the escalation moved on a moment ago (refuse), or
        # every step was paged without an answer, and a person asks to start over.
        if not (alert.unreached and engine.has_steps(alert)):
            return False
        engine.record(session, alert, "escalate_now", now, staff_id=staff.id if staff else None,
                      channel=channel, detail=f"by {who}: paging starts over")
        alert.unreached = False
        engine.start_step(session, alert, alert.loop + 1, 0, now)
        return True
    engine.record(session, alert, "escalate_now", now, staff_id=staff.id if staff else None, channel=channel,
                  detail=f"by {who}")
    engine.advance(session, alert, now, f"escalated by {who}")
    return True


def resolve(session: Session, alert: Alert, *, staff: StaffUser | None, channel: str, now: datetime,
            note: str | None = None) -> bool:
    require_may_act(session, alert, staff, now)
    alert = engine.lock_alert(session, alert.id)
    if alert.status == AlertStatus.RESOLVED:
        return False
    alert.status = AlertStatus.RESOLVED
    alert.resolved_at = now
    alert.open_key = None  # the dedup key is free for the next occurrence
    timers.cancel_prefix(session, f"alert:{alert.id}:", now)
    engine.cancel_pending_notifications(session, alert, now, "alert resolved")
    engine.record(session, alert, "resolved", now, staff_id=staff.id if staff else None, channel=channel,
                  detail=f"by {_name(staff)}" + (f": {note}" if note else ""))
    return True


def list_alerts(session: Session, *, status: str | None = None, limit: int = 100) -> list[Alert]:
    stmt = select(Alert).order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit)
    if status == "open":
        stmt = stmt.where(Alert.status.in_(OPEN))
    elif status:
        if status not in {s.value for s in AlertStatus}:
            raise AlertError(f"unknown status {status!r}; expected open, triggered, acknowledged or resolved")
        stmt = stmt.where(Alert.status == status)
    return list(session.scalars(stmt))


def open_alerts_paged_to(session: Session, staff: StaffUser) -> list[Alert]:
    paged = select(Page.alert_id).where(Page.staff_id == staff.id)
    return list(session.scalars(select(Alert).where(Alert.id.in_(paged), Alert.status.in_(OPEN))
                                .order_by(Alert.created_at, Alert.id)))


def open_alerts_for_ticket(session: Session, ticket_number: int) -> list[Alert]:
    return list(session.scalars(select(Alert).where(Alert.ticket_number == ticket_number, Alert.status.in_(OPEN))
                                .order_by(Alert.id)))


def find_by_reference(session: Session, reference: int) -> Alert | None:
    """The open alert an engineer means by a number: a ticket number, else an alert id."""
    found = session.scalar(select(Alert).where(Alert.ticket_number == reference, Alert.status.in_(OPEN))
                           .order_by(Alert.id.desc()).limit(1))
    if found is None:
        found = session.scalar(select(Alert).where(Alert.id == reference, Alert.ticket_number.is_(None)))
    return found


def last_page(session: Session, alert: Alert, staff: StaffUser) -> Page | None:
    return session.scalar(select(Page).where(Page.alert_id == alert.id, Page.staff_id == staff.id)
                          .order_by(Page.id.desc()).limit(1))
