"""`callcenter prompts` and `call`: the hotline's Asterisk prompts and simulated calls."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from .context import Context, make_session_factory, now_utc, pass_ctx


@click.group()
def prompts() -> None:
    """Audio prompts for Asterisk."""


@prompts.command("build")
@click.option("--out", "out", default=None, help="directory (default: CALLCENTER_PROMPTS_DIR)")
@click.option("--force", is_flag=True, help="re-synthesise every prompt")
@pass_ctx
def prompts_build(ctx: Context, out: str | None, force: bool) -> None:
    """Synthesise the hotline flow's prompts and the customers' names (espeak-ng, 8 kHz mono WAV) for Asterisk.

    Run it again after adding a customer: agents hear the name in the call offer's whisper."""
    from pathlib import Path

    from ..ivr.flow import load_flow
    from ..ivr.prompts import PromptToolMissing, build_prompts

    target = Path(out) if out else ctx.settings.prompts_path
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from ..models import Company

    try:
        with ctx.session() as session:
            companies = {c.id: c.name for c in session.scalars(select(Company))}
    except SQLAlchemyError as exc:  # before `db upgrade`: the flow's prompts still get built
        click.echo(f"customers' names skipped (database: {type(exc).__name__}); run this again later", err=True)
        companies = {}
    try:
        result = build_prompts(load_flow("hotline"), target, force=force, companies=companies)
    except PromptToolMissing as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{len(result.written)} prompts written, {result.unchanged} unchanged, in {target}")


@click.group("call")
def call_group() -> None:
    """Hotline calls."""


@call_group.command("simulate")
@click.option("--from", "caller", required=True, help="caller ID, e.g. +3615550101 (Kovács Anna)")
@click.option("--digits", default="", help="keys pressed, e.g. 1, or 3 then 15001# for a ticket's status")
@click.option("--at", "at", default=None, help="ISO 8601 instant (default now), to try out of hours")
@click.option("--queue-result", type=click.Choice(["timeout", "bridged", "hangup"]), default="timeout",
              show_default=True, help="how the agents' queue ends")
@click.option("--message-seconds", type=int, default=10, show_default=True, help="0: caller leaves no message")
@pass_ctx
def call_simulate(ctx: Context, caller: str, digits: str, at: str | None, queue_result: str,
                  message_seconds: int) -> None:
    """Place a simulated call through the hotline flow against the database (no Twilio, no Asterisk)."""
    from ..ivr.engine import FlowEngine
    from ..ivr.simulate import simulate_call
    from ..wiring import load_services

    load_services()
    now = now_utc()
    if at:
        now = datetime.fromisoformat(at)
        if now.tzinfo is None:
            raise click.BadParameter("give an offset, e.g. 2026-10-06T22:00+02:00", param_hint="--at")
        now = now.astimezone(UTC)
    click.echo(f"call from {caller} at {now.isoformat()}")
    simulate_call(make_session_factory(ctx.engine, ctx.settings), FlowEngine(ctx.settings), caller=caller,
                  digits=digits, now=now, queue_result=queue_result, message_seconds=message_seconds, echo=click.echo)
