"""`callcenter events`: the durable after-commit domain events (callcenter/unit_of_work.py) for operators.

A handler that failed every attempt is `dead` (counted by /metrics); once its cause is fixed (the SMTP
relay is back, a bug is deployed away) `requeue` hands it back to the worker's domain-events job, which
runs it with a fresh set of attempts. Only dead rows are requeued: a pending or failed row is still the
worker's, and a done one ran already (running it again could send its mail twice).
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from .context import Context, pass_ctx

STATES = ("pending", "failed", "dead", "done")


@click.group("events")
def events_group() -> None:
    """After-commit domain events (customer mail, other effects of a change)."""


@events_group.command("list")
@click.option("--state", type=click.Choice(STATES), default=None, help="only this state (default: all but done)")
@click.option("--limit", type=click.IntRange(1, 10000), default=100, show_default=True)
@pass_ctx
def events_list(ctx: Context, state: str | None, limit: int) -> None:
    """One line per event, newest first: id, state, attempts, created, event, handler, last error."""
    from sqlalchemy import select

    from ..models import DomainEvent

    wanted = [state] if state else [s for s in STATES if s != "done"]
    with ctx.session() as session:
        rows = session.scalars(select(DomainEvent).where(DomainEvent.state.in_(wanted))
                               .order_by(DomainEvent.id.desc()).limit(limit))
        for r in rows:
            error = " ".join((r.last_error or "-").split())[:300]
            click.echo(f"{r.id}\t{r.state}\t{r.attempts}/{r.max_attempts}\t{r.created_at:%Y-%m-%d %H:%M:%S}\t"
                       f"{r.event_type}\t{r.handler}\t{error}")


@events_group.command("requeue")
@click.argument("event_ids", type=click.IntRange(1, 2**63 - 1), nargs=-1)
@click.option("--all-dead", is_flag=True, help="every dead event")
@pass_ctx
def events_requeue(ctx: Context, event_ids: tuple[int, ...], all_dead: bool) -> None:
    """Give dead events back to the worker: each runs again, with its attempts counted afresh."""
    from sqlalchemy import select, update

    from ..models import DomainEvent, DomainEventState

    if bool(event_ids) == all_dead:
        raise click.UsageError("name the event ids, or --all-dead")
    now = datetime.now(UTC)
    with ctx.session() as session:
        if event_ids:
            found = {i: state for i, state in session.execute(select(DomainEvent.id, DomainEvent.state)
                                                              .where(DomainEvent.id.in_(event_ids)))}
            missing = [i for i in event_ids if i not in found]
            if missing:
                raise click.ClickException(f"no domain event {', '.join(map(str, missing))}")
            alive = [f"{i} ({found[i]})" for i in event_ids if found[i] != DomainEventState.DEAD]
            if alive:
                raise click.ClickException(f"not dead, left as they are: {', '.join(alive)}")
            where = DomainEvent.id.in_(event_ids)
        else:
            where = DomainEvent.state == DomainEventState.DEAD
        # Conditional on `dead`: a row another operator requeued meanwhile is not reset twice.
        ids = list(session.scalars(update(DomainEvent).where(where, DomainEvent.state == DomainEventState.DEAD)
                                   .values(state=DomainEventState.FAILED, attempts=0, next_attempt_at=now)
                                   .returning(DomainEvent.id)))
    plural = "" if len(ids) == 1 else "s"
    click.echo(f"requeued {len(ids)} event{plural}" + (f": {', '.join(map(str, sorted(ids)))}" if ids else ""))
