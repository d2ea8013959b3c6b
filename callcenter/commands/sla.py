"""`callcenter sla`: the SLA clock's tools."""

from __future__ import annotations

from datetime import datetime

import click

from .context import Context, pass_ctx


@click.group()
def sla() -> None:
    """SLA clock tools."""


@sla.command("due")
@click.option("--company", required=True, help="company name or id")
@click.option("--category", required=True, help="user, system, infrastructure, ...")
@click.option("--at", "at", required=True, help="ISO 8601 instant with offset, e.g. 2026-03-27T15:00+01:00")
@pass_ctx
def sla_due(ctx: Context, company: str, category: str, at: str) -> None:
    """Print the response deadline, in the contract's time zone, for a ticket opened AT."""
    from zoneinfo import ZoneInfo

    from ..customers import UnknownCompany, active_contract, find_company
    from ..sla import due_for

    try:
        start = datetime.fromisoformat(at)
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 instant: {at}", param_hint="--at") from None
    if start.tzinfo is None:
        raise click.BadParameter("give an offset or Z (the instant must be unambiguous)", param_hint="--at")
    with ctx.session() as session:
        try:
            found = find_company(session, company)
        except UnknownCompany as exc:
            raise click.ClickException(str(exc)) from None
        contract = active_contract(session, found.id, start.astimezone(ZoneInfo(found.contracts[-1].timezone)).date()
                                   if found.contracts else start.date())
        if contract is None:
            raise click.ClickException(f"{found.name} has no contract valid on {start.date()}")
        due = due_for(contract, category, start)
        if due is None:
            raise click.ClickException(f"the contract has no response target for {category!r}")
        click.echo(due.astimezone(ZoneInfo(contract.timezone)).isoformat())
