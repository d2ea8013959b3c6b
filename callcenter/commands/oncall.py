"""`callcenter oncall`: who is on call, the schedule, overrides."""

from __future__ import annotations

import click

from .context import Context, now_utc, parse_instant, pass_ctx


@click.group()
def oncall() -> None:
    """On-call rotations: who is on call, the schedule, overrides."""


@oncall.command("now")
@click.option("--at", "at", default=None, help="ISO 8601 instant with offset (default: now)")
@pass_ctx
def oncall_now(ctx: Context, at: str | None) -> None:
    """Who is on call now, per rotation."""
    from sqlalchemy import select

    from ..models import Rotation
    from ..paging.rotations import who_is_on_call

    instant = parse_instant(at) if at else now_utc()
    with ctx.session() as session:
        rotations = list(session.scalars(select(Rotation).order_by(Rotation.name)))
        if not rotations:
            raise click.ClickException("no rotations (callcenter seed-demo adds one)")
        for rotation in rotations:
            person = who_is_on_call(session, rotation, instant)
            who = f"{person.name} ({person.username}, {person.phone or 'no phone'})" if person else "nobody"
            click.echo(f"{rotation.name}: {who}")


@oncall.command("schedule")
@click.option("--weeks", type=click.IntRange(1, 52), default=2, show_default=True)
@click.option("--rotation", "rotation_name", default=None, help="rotation name or id (default: all)")
@pass_ctx
def oncall_schedule(ctx: Context, weeks: int, rotation_name: str | None) -> None:
    """Who is on call for the next N weeks, in each rotation's local time."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from sqlalchemy import select

    from ..models import Rotation, StaffUser
    from ..paging.rotations import RotationError, find_rotation, schedule

    start = now_utc()
    with ctx.session() as session:
        try:
            rotations = [find_rotation(session, rotation_name)] if rotation_name else \
                list(session.scalars(select(Rotation).order_by(Rotation.name)))
        except RotationError as exc:
            raise click.ClickException(str(exc)) from None
        names = {u.id: u.name for u in session.scalars(select(StaffUser))}
        for rotation in rotations:
            tz = ZoneInfo(rotation.timezone)
            click.echo(f"{rotation.name} ({rotation.kind}, hand-over {rotation.handover_time} {rotation.timezone})")
            for shift in schedule(rotation, start, start + timedelta(weeks=weeks)):
                mark = "  (override)" if shift.override else ""
                span = f"{shift.start.astimezone(tz):%Y-%m-%d %a %H:%M} - {shift.end.astimezone(tz):%Y-%m-%d %a %H:%M}"
                click.echo(f"  {span}  {names.get(shift.staff_id, 'nobody')}{mark}")


@oncall.command("override")
@click.option("--rotation", "rotation_name", required=True)
@click.option("--user", "username", required=True, help="who covers")
@click.option("--from", "start", required=True, help="ISO 8601 instant with offset")
@click.option("--to", "end", required=True, help="ISO 8601 instant with offset")
@click.option("--reason", default=None)
@pass_ctx
def oncall_override(ctx: Context, rotation_name: str, username: str, start: str, end: str,
                    reason: str | None) -> None:
    """Let USER cover a rotation from --from to --to."""
    from sqlalchemy import select

    from ..models import StaffUser
    from ..paging.rotations import RotationError, add_override, find_rotation

    with ctx.session() as session:
        user = session.scalar(select(StaffUser).where(StaffUser.username == username))
        if user is None:
            raise click.ClickException(f"no staff user {username!r}")
        try:
            add_override(session, find_rotation(session, rotation_name), user, parse_instant(start),
                         parse_instant(end), now=now_utc(), reason=reason)
        except RotationError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"{user.name} covers {rotation_name} from {start} to {end}")
