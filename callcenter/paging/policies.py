"""Escalation policies (ordered steps of targets with delays, repeated) and per-person notification rules."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import EscalationPolicy, NotificationRule, Role, Rotation, StaffUser
from .rotations import who_is_on_call

TARGET_KINDS = ("rotation", "staff", "level", "managers")
CHANNELS = ("sms", "voice")
MAX_REPEAT = 9
DEFAULT_STEP_MINUTES = 5
# Someone with a phone but no rules of their own is still reachable: SMS at once, a call after 2 min.
DEFAULT_RULES = [{"channel": "sms", "delay_minutes": 0}, {"channel": "voice", "delay_minutes": 2}]


class PolicyError(ValueError):
    pass


def validate_steps(steps: list) -> list[dict]:
    if not isinstance(steps, list) or not steps:
        raise PolicyError("a policy needs at least one step")
    clean = []
    for i, step in enumerate(steps, 1):
        targets = step.get("targets") if isinstance(step, dict) else None
        if not targets:
            raise PolicyError(f"step {i} has no targets")
        for t in targets:
            if t.get("kind") not in TARGET_KINDS:
                raise PolicyError(f"step {i}: unknown target kind {t.get('kind')!r}; expected {TARGET_KINDS}")
            if t["kind"] in ("rotation", "staff") and not isinstance(t.get("id"), int):
                raise PolicyError(f"step {i}: a {t['kind']} target needs an integer id")
            if t["kind"] == "level" and t.get("level") not in ("L1", "L2", "L3", "onsite"):
                raise PolicyError(f"step {i}: a level target needs level L1, L2, L3 or onsite")
        delay = int(step.get("delay_minutes", DEFAULT_STEP_MINUTES))
        if delay < 1:
            raise PolicyError(f"step {i}: delay_minutes must be at least 1")
        clean.append({"delay_minutes": delay, "targets": targets})
    return clean


def create_policy(session: Session, *, name: str, steps: list, repeat: int = 0, now: datetime) -> EscalationPolicy:
    if not 0 <= repeat <= MAX_REPEAT:
        raise PolicyError(f"repeat must be between 0 and {MAX_REPEAT}")
    policy = EscalationPolicy(name=name, steps=validate_steps(steps), repeat=repeat, created_at=now)
    session.add(policy)
    session.flush()
    return policy


def find_policy(session: Session, name_or_id: str | int | None) -> EscalationPolicy | None:
    if name_or_id is None or name_or_id == "":
        return None
    if isinstance(name_or_id, int) or str(name_or_id).isdigit():
        return session.get(EscalationPolicy, int(name_or_id))
    return session.scalar(select(EscalationPolicy).where(EscalationPolicy.name == name_or_id))


def snapshot(policy: EscalationPolicy) -> dict:
    return {"id": policy.id, "name": policy.name, "steps": list(policy.steps), "repeat": policy.repeat}


def resolve_targets(session: Session, targets: list[dict], now: datetime) -> list[StaffUser]:
    """The people a step pages, in target order, each once; inactive staff are skipped."""
    people: list[StaffUser] = []
    for t in targets:
        kind = t.get("kind")
        found: list[StaffUser] = []
        if kind == "rotation":
            rotation = session.get(Rotation, t["id"])
            person = who_is_on_call(session, rotation, now) if rotation else None
            found = [person] if person else []
        elif kind == "staff":
            person = session.get(StaffUser, t["id"])
            found = [person] if person else []
        elif kind == "level":
            found = list(session.scalars(select(StaffUser).where(StaffUser.level == t["level"])
                                         .order_by(StaffUser.id)))
        elif kind == "managers":
            found = list(session.scalars(select(StaffUser).where(StaffUser.role == Role.MANAGER)
                                         .order_by(StaffUser.id)))
        for person in found:
            if person.active and all(p.id != person.id for p in people):
                people.append(person)
    return people


def rules_for(session: Session, staff: StaffUser) -> list[dict]:
    rows = session.scalars(select(NotificationRule).where(NotificationRule.staff_id == staff.id)
                           .order_by(NotificationRule.delay_minutes, NotificationRule.id))
    rules = [{"channel": r.channel, "delay_minutes": r.delay_minutes} for r in rows]
    return rules or [dict(r) for r in DEFAULT_RULES]


def set_rule(session: Session, staff: StaffUser, channel: str, delay_minutes: int) -> NotificationRule:
    if channel not in CHANNELS:
        raise PolicyError(f"unknown channel {channel!r}; expected sms or voice")
    if delay_minutes < 0:
        raise PolicyError("delay_minutes cannot be negative")
    existing = session.scalar(select(NotificationRule).where(
        NotificationRule.staff_id == staff.id, NotificationRule.channel == channel,
        NotificationRule.delay_minutes == delay_minutes))
    if existing:
        return existing
    rule = NotificationRule(staff_id=staff.id, channel=channel, delay_minutes=delay_minutes)
    session.add(rule)
    session.flush()
    return rule
