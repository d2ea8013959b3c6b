"""`callcenter user`: staff users, their passwords and API tokens."""

from __future__ import annotations

import click

from .context import Context, now_utc, pass_ctx, staff_or_fail


@click.group()
def user() -> None:
    """Staff users and API tokens."""


@user.command("token")
@click.argument("username")
@click.option("--label", default="cli")
@pass_ctx
def user_token(ctx: Context, username: str, label: str) -> None:
    """Print a new API token for USERNAME."""
    from ..auth import AuthError, issue_token

    try:
        with ctx.session() as session:
            token = issue_token(session, username, now_utc(), label)
    except AuthError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(token)


@user.command("create")
@click.argument("username")
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(["agent", "engineer", "qa", "manager", "admin"]), default="agent")
@click.option("--level", type=click.Choice(["L1", "L2", "L3", "onsite"]), default=None)
@click.option("--phone", default=None)
@click.option("--email", default=None)
@click.option("--language", type=click.Choice(["hu", "el", "en"]), default="en")
@click.option("--timezone", "zone", default=None, help="zone the console writes times in (default: the desk's)")
@click.password_option()
@pass_ctx
def user_create(ctx: Context, username: str, name: str, role: str, level: str | None, phone: str | None,
                email: str | None, language: str, zone: str | None, password: str) -> None:
    """Create a staff user (usernames are case-insensitive and stored lower-cased)."""
    from ..auth import AuthError, find_staff, normalize_login, set_password
    from ..customers import normalize_phone
    from ..models import StaffUser

    username = normalize_login(username)
    if not username:
        raise click.ClickException("the username must not be empty")
    if zone is not None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise click.ClickException(f"unknown time zone {zone!r} (e.g. Europe/Athens)") from None
    try:
        with ctx.session() as session:
            if find_staff(session, username) is not None:
                raise click.ClickException(f"staff user {username!r} exists already")
            user = StaffUser(username=username, name=name, role=role, level=level, email=email, language=language,
                             timezone=zone, phone=normalize_phone(phone) if phone else None, created_at=now_utc())
            set_password(user, password)
            session.add(user)
    except AuthError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created {username}")


@user.command("password")
@click.argument("username")
@click.password_option()
@pass_ctx
def user_password(ctx: Context, username: str, password: str) -> None:
    """Set a staff user's password: their console sessions end and their API tokens are revoked."""
    from ..auth import AuthError, set_password

    try:
        with ctx.session() as session:
            set_password(staff_or_fail(session, username), password, now_utc(), session)
    except AuthError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("password set; sessions ended and API tokens revoked")


@user.command("deactivate")
@click.argument("username")
@pass_ctx
def user_deactivate(ctx: Context, username: str) -> None:
    """USERNAME can no longer log in: console sessions end at their next request, API tokens are revoked."""
    from ..auth import deactivate

    with ctx.session() as session:
        revoked = deactivate(session, staff_or_fail(session, username), now_utc())
    click.echo(f"deactivated {username}; {revoked} API token(s) revoked")


@user.command("revoke-tokens")
@click.argument("username")
@pass_ctx
def user_revoke_tokens(ctx: Context, username: str) -> None:
    """Revoke every API token of USERNAME (console logins are not touched)."""
    from ..auth import revoke_tokens

    with ctx.session() as session:
        revoked = revoke_tokens(session, staff_or_fail(session, username), now_utc())
    click.echo(f"{revoked} API token(s) revoked")
