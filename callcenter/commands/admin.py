"""`callcenter db`, `seed-demo`, `search-reindex`: the database's schema and contents."""

from __future__ import annotations

import click

from .context import Context, now_utc, pass_ctx


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
@pass_ctx
def db_upgrade(ctx: Context, revision: str) -> None:
    """Apply Alembic migrations."""
    from ..migrate import upgrade

    upgrade(ctx.settings.database_url, revision)
    click.echo(f"database at {revision}")


@click.command("seed-demo")
@pass_ctx
def seed_demo_cmd(ctx: Context) -> None:
    """Load the fictional demo customers and staff (idempotent)."""
    from ..demo import seed_demo

    with ctx.session() as session:
        created = seed_demo(session, now_utc())
    click.echo(f"demo data: {created['companies']} companies, {created['staff']} staff users added")


@click.command("search-reindex")
@pass_ctx
def search_reindex_cmd(ctx: Context) -> None:
    """Rebuild every ticket's full-text search document (after a bulk import, or to repair the index)."""
    from ..search import rebuild_all

    with ctx.session() as session:
        count = rebuild_all(session)
    click.echo(f"search index: {count} tickets")
