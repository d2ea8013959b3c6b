"""Who may act on an alert (acknowledge, escalate, resolve): one rule for SMS, voice, API and console.

Engineers, managers and administrators may act on any alert; anyone else only on an alert they
were paged for or whose escalation policy names them now (its rotation's on-call person, named
staff, their level). Quality reviewers only read. The system itself (a timer, a caller who hung up)
acts with no staff member and is not checked.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Alert, Page, Role, StaffUser
from .policies import resolve_targets

ACTING_ROLES = frozenset({Role.ENGINEER, Role.MANAGER, Role.ADMIN})


class AlertForbidden(PermissionError):
    """The staff member may not act on this alert."""


def may_act(session: Session, alert: Alert, staff: StaffUser | None, now: datetime) -> bool:
    if staff is None:
        return True
    if not staff.active or staff.role == Role.QA:
        return False
    if staff.role in ACTING_ROLES:
        return True
    paged = session.scalar(select(Page.id).where(Page.alert_id == alert.id, Page.staff_id == staff.id).limit(1))
    if paged is not None:
        return True
    for step in (alert.policy_snapshot or {}).get("steps") or []:
        if any(person.id == staff.id for person in resolve_targets(session, step.get("targets") or [], now)):
            return True
    return False


def require_may_act(session: Session, alert: Alert, staff: StaffUser | None, now: datetime) -> None:
    if not may_act(session, alert, staff, now):
        raise AlertForbidden(f"{staff.name if staff else 'nobody'} may not act on alert {alert.reference}: "
                             "only people paged for it, the people of its escalation policy, engineers and "
                             "managers may")
