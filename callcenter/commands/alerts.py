"""`callcenter alert`: raise, list, acknowledge, escalate and resolve alerts (pages)."""

from __future__ import annotations

import click

from .context import Context, now_utc, pass_ctx


@click.group()
def alert() -> None:
    """Raise, list, acknowledge, escalate and resolve alerts (pages)."""


@alert.command("raise")
@click.option("--summary", required=True)
@click.option("--details", default="")
@click.option("--severity", type=click.Choice(["critical", "high", "low", "info"]), default="critical")
@click.option("--dedup-key", default=None, help="one open alert per key (default: a new alert)")
@click.option("--policy", default=None, help="escalation policy name or id (default: Default)")
@click.option("--ticket", type=int, default=None, help="ticket number")
@pass_ctx
def alert_raise(ctx: Context, summary: str, details: str, severity: str, dedup_key: str | None, policy: str | None,
                ticket: int | None) -> None:
    """Raise an alert and start paging (the worker sends the SMS and calls)."""
    import uuid

    from ..paging import alerts
    from ..paging.policies import find_policy
    from ..paging.sources import default_policy
    from ..tickets import TicketNotFound, get_ticket

    with ctx.session() as session:
        chosen = find_policy(session, policy) if policy else default_policy(session)
        if policy and chosen is None:
            raise click.ClickException(f"no escalation policy {policy!r}")
        try:
            t = get_ticket(session, ticket) if ticket else None
            row, created = alerts.raise_alert(session, source="api", dedup_key=dedup_key or f"cli-{uuid.uuid4().hex}",
                                              summary=summary, details=details, severity=severity, policy=chosen,
                                              ticket=t, now=now_utc())
        except (alerts.AlertError, TicketNotFound) as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"alert {row.id} {'raised' if created else 'already open (deduplicated)'}: {row.summary}")


@alert.command("list")
@click.option("--status", default="open", show_default=True, help="open, triggered, acknowledged, resolved, all")
@pass_ctx
def alert_list(ctx: Context, status: str) -> None:
    """Alerts, newest first."""
    from ..paging import alerts

    with ctx.session() as session:
        try:
            rows = alerts.list_alerts(session, status=None if status == "all" else status)
        except alerts.AlertError as exc:
            raise click.ClickException(str(exc)) from None
        for a in rows:
            flag = "  UNREACHED" if a.unreached else ""
            click.echo(f"{a.id:>5}  {a.status:<12} {a.created_at:%Y-%m-%d %H:%M}Z  step {a.step + 1}  "
                       f"{'#' + str(a.ticket_number) if a.ticket_number else '-':>7}  {a.summary}{flag}")


def _alert_action(ctx: Context, alert_id: int, username: str | None, action: str) -> None:
    from sqlalchemy import select

    from ..models import StaffUser
    from ..paging import alerts

    with ctx.session() as session:
        user = session.scalar(select(StaffUser).where(StaffUser.username == username)) if username else None
        if username and user is None:
            raise click.ClickException(f"no staff user {username!r}")
        try:
            row = alerts.get_alert(session, alert_id)
        except alerts.AlertNotFound as exc:
            raise click.ClickException(str(exc)) from None
        fn = {"acknowledge": alerts.acknowledge, "escalate": alerts.escalate_now, "resolve": alerts.resolve}[action]
        try:
            done = fn(session, row, staff=user, channel="cli", now=now_utc())
        except alerts.AlertForbidden as exc:
            raise click.ClickException(str(exc)) from None
        if not done:
            raise click.ClickException(f"cannot {action} alert {alert_id}: it is {row.status}")
        click.echo(f"alert {alert_id}: {row.status}")


@alert.command("ack")
@click.argument("alert_id", type=int)
@click.option("--user", "username", default=None, help="who acknowledges (staff username)")
@pass_ctx
def alert_ack(ctx: Context, alert_id: int, username: str | None) -> None:
    """Acknowledge: stop the escalation."""
    _alert_action(ctx, alert_id, username, "acknowledge")


@alert.command("escalate")
@click.argument("alert_id", type=int)
@click.option("--user", "username", default=None)
@pass_ctx
def alert_escalate(ctx: Context, alert_id: int, username: str | None) -> None:
    """Page the next step now."""
    _alert_action(ctx, alert_id, username, "escalate")


@alert.command("resolve")
@click.argument("alert_id", type=int)
@click.option("--user", "username", default=None)
@pass_ctx
def alert_resolve(ctx: Context, alert_id: int, username: str | None) -> None:
    """Resolve: stop paging and free the dedup key."""
    _alert_action(ctx, alert_id, username, "resolve")
