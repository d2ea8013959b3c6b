"""The `callcenter` command: serve the parts, migrate, seed, and the operators' tools."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import click

from .config import Settings, load_settings
from .db import make_engine, make_session_factory, session_scope

log = logging.getLogger("callcenter")


class Context:
    def __init__(self) -> None:
        self.settings: Settings = load_settings()
        self._engine = None

    @property
    def engine(self):  # noqa: ANN201
        if self._engine is None:
            self._engine = make_engine(self.settings.database_url)
        return self._engine

    def session(self):  # noqa: ANN201
        return session_scope(make_session_factory(self.engine))


pass_ctx = click.make_pass_decorator(Context, ensure=True)


def now_utc() -> datetime:
    return datetime.now(UTC)


@click.group()
@click.option("--verbose", "-v", is_flag=True, help="debug logging")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Hotline help desk and call centre."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    ctx.obj = Context()


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
@pass_ctx
def db_upgrade(ctx: Context, revision: str) -> None:
    """Apply Alembic migrations."""
    from .migrate import upgrade

    upgrade(ctx.settings.database_url, revision)
    click.echo(f"database at {revision}")


@cli.command("seed-demo")
@pass_ctx
def seed_demo_cmd(ctx: Context) -> None:
    """Load the fictional demo customers and staff (idempotent)."""
    from .demo import seed_demo

    with ctx.session() as session:
        created = seed_demo(session, now_utc())
    click.echo(f"demo data: {created['companies']} companies, {created['staff']} staff users added")


@cli.group()
def user() -> None:
    """Staff users and API tokens."""


@user.command("token")
@click.argument("username")
@click.option("--label", default="cli")
@pass_ctx
def user_token(ctx: Context, username: str, label: str) -> None:
    """Print a new API token for USERNAME."""
    from .auth import AuthError, issue_token

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
@click.password_option()
@pass_ctx
def user_create(ctx: Context, username: str, name: str, role: str, level: str | None, phone: str | None,
                email: str | None, language: str, password: str) -> None:
    """Create a staff user."""
    from .auth import set_password
    from .customers import normalize_phone
    from .models import StaffUser

    with ctx.session() as session:
        user = StaffUser(username=username, name=name, role=role, level=level, email=email, language=language,
                         phone=normalize_phone(phone) if phone else None, created_at=now_utc())
        set_password(user, password)
        session.add(user)
    click.echo(f"created {username}")


@user.command("password")
@click.argument("username")
@click.password_option()
@pass_ctx
def user_password(ctx: Context, username: str, password: str) -> None:
    """Set a staff user's password."""
    from sqlalchemy import select

    from .auth import set_password
    from .models import StaffUser

    with ctx.session() as session:
        user = session.scalar(select(StaffUser).where(StaffUser.username == username))
        if user is None:
            raise click.ClickException(f"no staff user {username!r}")
        set_password(user, password)
    click.echo("password set")


@cli.group()
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

    from .customers import UnknownCompany, active_contract, find_company
    from .sla import due_for

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


@cli.command("web")
@click.option("--host", default=None)
@click.option("--port", type=int, default=None)
@click.option("--threads", type=int, default=16, show_default=True)
@pass_ctx
def web(ctx: Context, host: str | None, port: int | None, threads: int) -> None:
    """Serve the web console, API and Twilio webhooks only."""
    from waitress import serve

    from .app import create_app

    app = create_app(ctx.settings, ctx.engine)
    host, port = host or ctx.settings.web_host, port or ctx.settings.web_port
    log.info("web on http://%s:%s", host, port)
    serve(app, host=host, port=port, threads=threads, ident="hotline")


@cli.command("worker")
@pass_ctx
def worker(ctx: Context) -> None:
    """Run the scheduler ticker only: timers, outbox, periodic jobs (run as many as you like)."""
    from .scheduler import Ticker

    Ticker(ctx.settings, ctx.engine).run_forever()


@cli.command("serve")
@click.option("--host", default=None)
@click.option("--port", type=int, default=None)
@pass_ctx
def serve_all(ctx: Context, host: str | None, port: int | None) -> None:
    """Web, FastAGI and the scheduler in one process (the embedded default)."""
    from waitress import serve

    from .app import create_app
    from .runtime import start_background_services

    stop = start_background_services(ctx.settings, ctx.engine)
    app = create_app(ctx.settings, ctx.engine)
    host, port = host or ctx.settings.web_host, port or ctx.settings.web_port
    log.info("web on http://%s:%s", host, port)
    try:
        serve(app, host=host, port=port, threads=16, ident="hotline")
    finally:
        stop()


@cli.group()
def report() -> None:
    """Reports for customers and for the help desk itself."""


@report.command("quarterly")
@click.option("--company", required=True, help="company name or id")
@click.option("--quarter", required=True, help="e.g. 2026Q3")
@click.option("--format", "fmt", type=click.Choice(["pdf", "csv"]), default="pdf", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, writable=True), required=True,
              help="file to write, - for stdout (csv)")
@pass_ctx
def report_quarterly(ctx: Context, company: str, quarter: str, fmt: str, output: str) -> None:
    """Quarterly SLA compliance of one customer as PDF or CSV."""
    from .customers import UnknownCompany
    from .report_export import quarterly_csv, quarterly_pdf
    from .reports import ReportError, quarterly_report

    with ctx.session() as session:
        try:
            result = quarterly_report(session, company, quarter, now=now_utc())
        except (UnknownCompany, ReportError) as exc:
            raise click.ClickException(str(exc)) from exc
    if fmt == "csv":
        data = quarterly_csv(result)
        if output == "-":
            click.echo(data, nl=False)
            return
        with open(output, "w", encoding="utf-8", newline="") as fh:
            fh.write(data)
    else:
        if output == "-":
            raise click.ClickException("write the PDF to a file (--output report.pdf)")
        with open(output, "wb") as fh:
            fh.write(quarterly_pdf(result))
    click.echo(f"{result.company_name} {result.quarter.label}: {result.total.tickets} tickets, "
               f"{result.breach_count} breaches -> {output}", err=True)


def main() -> None:
    try:
        cli(prog_name="callcenter")
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
