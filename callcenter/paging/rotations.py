"""On-call rotations: who is on call at an instant, and the schedule for the weeks ahead.

Hand-overs happen at a local wall-clock time in the rotation's zone, so counting shifts in local
wall-clock days keeps a 09:00 hand-over at 09:00 across DST changes (the UTC instant moves).
Overrides win over the rotation; where overrides overlap the newest one wins, so the answer for
any instant is exactly one person (or nobody when the rotation has no members).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Rotation, RotationOverride, StaffUser

PERIOD_DAYS = {"daily": 1, "weekly": 7}


class RotationError(ValueError):
    pass


def _handover_clock(rotation: Rotation) -> time:
    hours, minutes = (int(x) for x in rotation.handover_time.split(":"))
    return time(hours, minutes)


def _anchor(rotation: Rotation) -> datetime:
    """The first hand-over as a naive local wall-clock time."""
    return datetime.combine(rotation.start_date, _handover_clock(rotation))


def _period(rotation: Rotation) -> timedelta:
    try:
        return timedelta(days=PERIOD_DAYS[rotation.kind])
    except KeyError:
        raise RotationError(f"unknown rotation kind {rotation.kind!r}; expected daily or weekly") from None


def _local_to_utc(naive_local: datetime, tz: ZoneInfo) -> datetime:
    # A wall time in the spring-forward gap maps to the instant just after the gap (fold=0 semantics).
    return naive_local.replace(tzinfo=tz).astimezone(UTC)


def shift_index(rotation: Rotation, at: datetime) -> int:
    """Number of hand-overs since the first one (negative before the rotation starts)."""
    local = at.astimezone(ZoneInfo(rotation.timezone)).replace(tzinfo=None)
    elapsed = local - _anchor(rotation)
    return elapsed // _period(rotation)


def scheduled_member(rotation: Rotation, at: datetime) -> int | None:
    members = list(rotation.member_ids or [])
    if not members:
        return None
    index = shift_index(rotation, at)
    if index < 0:
        return None
    return members[index % len(members)]


def active_override(rotation: Rotation, at: datetime) -> RotationOverride | None:
    covering = [o for o in rotation.overrides if o.start_at <= at < o.end_at]
    return max(covering, key=lambda o: (o.created_at, o.id)) if covering else None


def who_is_on_call(session: Session, rotation: Rotation, now: datetime) -> StaffUser | None:
    override = active_override(rotation, now)
    staff_id = override.staff_id if override else scheduled_member(rotation, now)
    return session.get(StaffUser, staff_id) if staff_id is not None else None


def handovers_between(rotation: Rotation, start: datetime, end: datetime) -> list[datetime]:
    """UTC instants of the rotation's hand-overs in [start, end)."""
    tz = ZoneInfo(rotation.timezone)
    period = _period(rotation)
    index = max(shift_index(rotation, start), 0)
    out = []
    while True:
        instant = _local_to_utc(_anchor(rotation) + index * period, tz)
        if instant >= end:
            return out
        if instant >= start:
            out.append(instant)
        index += 1


@dataclass(frozen=True)
class Shift:
    start: datetime
    end: datetime
    staff_id: int | None
    override: bool


def schedule(rotation: Rotation, start: datetime, end: datetime) -> list[Shift]:
    """Who is on call from `start` to `end`, as contiguous shifts (overrides cut into the rotation)."""
    points = {start, end, *handovers_between(rotation, start, end)}
    for o in rotation.overrides:
        points.update(p for p in (o.start_at, o.end_at) if start < p < end)
    ordered = sorted(points)
    shifts: list[Shift] = []
    for a, b in zip(ordered, ordered[1:], strict=False):
        override = active_override(rotation, a)
        staff_id = override.staff_id if override else scheduled_member(rotation, a)
        if shifts and shifts[-1].staff_id == staff_id and shifts[-1].override == bool(override):
            shifts[-1] = Shift(shifts[-1].start, b, staff_id, bool(override))
        else:
            shifts.append(Shift(a, b, staff_id, bool(override)))
    return shifts


def add_override(session: Session, rotation: Rotation, staff: StaffUser, start_at: datetime, end_at: datetime,
                 *, now: datetime, reason: str | None = None) -> RotationOverride:
    if end_at <= start_at:
        raise RotationError("an override must end after it starts")
    override = RotationOverride(rotation=rotation, staff_id=staff.id, start_at=start_at, end_at=end_at,
                                reason=reason, created_at=now)
    session.add(override)
    session.flush()
    return override


def create_rotation(session: Session, *, name: str, members: list[StaffUser], timezone: str, kind: str,
                    handover_time: str, start_date: date, now: datetime) -> Rotation:
    if kind not in PERIOD_DAYS:
        raise RotationError(f"unknown rotation kind {kind!r}; expected daily or weekly")
    try:
        ZoneInfo(timezone)
        _ = time.fromisoformat(handover_time)
    except Exception as exc:
        raise RotationError(f"bad time zone or hand-over time: {exc}") from None
    rotation = Rotation(name=name, timezone=timezone, kind=kind, handover_time=handover_time,
                        start_date=start_date, member_ids=[m.id for m in members], created_at=now)
    session.add(rotation)
    session.flush()
    return rotation


def find_rotation(session: Session, name_or_id: str | int) -> Rotation:
    stmt = select(Rotation).where(Rotation.id == int(name_or_id)) if str(name_or_id).isdigit() \
        else select(Rotation).where(Rotation.name == name_or_id)
    rotation = session.scalar(stmt)
    if rotation is None:
        raise RotationError(f"no rotation {name_or_id!r}")
    return rotation
