"""The `callcenter` command: serve the parts, migrate, seed, and the operators' tools.

Every command imports what it needs inside itself: `callcenter --help` and `mail-ingest` (one process
per message from the MTA) must start in milliseconds, and SQLAlchemy alone costs more than that.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import click

from .config import Settings, load_settings


def make_engine(url: str, **kwargs: object):  # noqa: ANN201
    from .db import make_engine as make

    return make(url, **kwargs)


def make_session_factory(engine, settings: object | None = None):  # noqa: ANN001, ANN201
    from .db import make_session_factory as make

    return make(engine, settings)


def session_scope(factory):  # noqa: ANN001, ANN201
    from .db import session_scope as scope

    return scope(factory)

log = logging.getLogger("callcenter")


class Context:
    def __init__(self) -> None:
        self.settings: Settings = load_settings()
        self._engine = None

    @property
    def engine(self):  # noqa: ANN201
        if self._engine is None:
            from .db import DbTimeouts

            self._engine = make_engine(self.settings.database_url, timeouts=DbTimeouts.from_settings(self.settings))
        return self._engine

    def session(self):  # noqa: ANN201
        return session_scope(make_session_factory(self.engine, self.settings))


pass_ctx = click.make_pass_decorator(Context, ensure=True)


def now_utc() -> datetime:
    return datetime.now(UTC)


@click.group()
@click.option("--verbose", "-v", is_flag=True, help="debug logging")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Hotline help desk and call centre."""
    from .logs import configure as configure_logging

    ctx.obj = Context()
    try:
        configure_logging(ctx.obj.settings.log_format, logging.DEBUG if verbose else logging.INFO)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # One line per tick job every two seconds would drown what matters.
    logging.getLogger("apscheduler").setLevel(logging.DEBUG if verbose else logging.WARNING)
    # The Twilio library logs every REST request's headers at INFO: a dozen lines per SMS or call look-up.
    logging.getLogger("twilio.http_client").setLevel(logging.DEBUG if verbose else logging.WARNING)


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


@cli.command("search-reindex")
@pass_ctx
def search_reindex_cmd(ctx: Context) -> None:
    """Rebuild every ticket's full-text search document (after a bulk import, or to repair the index)."""
    from .search import rebuild_all

    with ctx.session() as session:
        count = rebuild_all(session)
    click.echo(f"search index: {count} tickets")


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
@click.option("--timezone", "zone", default=None, help="zone the console writes times in (default: the desk's)")
@click.password_option()
@pass_ctx
def user_create(ctx: Context, username: str, name: str, role: str, level: str | None, phone: str | None,
                email: str | None, language: str, zone: str | None, password: str) -> None:
    """Create a staff user (usernames are case-insensitive and stored lower-cased)."""
    from .auth import AuthError, find_staff, normalize_login, set_password
    from .customers import normalize_phone
    from .models import StaffUser

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


def _staff_or_fail(session, username: str):  # noqa: ANN001, ANN202
    from .auth import find_staff

    user = find_staff(session, username)
    if user is None:
        raise click.ClickException(f"no staff user {username!r}")
    return user


@user.command("password")
@click.argument("username")
@click.password_option()
@pass_ctx
def user_password(ctx: Context, username: str, password: str) -> None:
    """Set a staff user's password: their console sessions end and their API tokens are revoked."""
    from .auth import AuthError, set_password

    try:
        with ctx.session() as session:
            set_password(_staff_or_fail(session, username), password, now_utc(), session)
    except AuthError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("password set; sessions ended and API tokens revoked")


@user.command("deactivate")
@click.argument("username")
@pass_ctx
def user_deactivate(ctx: Context, username: str) -> None:
    """USERNAME can no longer log in: console sessions end at their next request, API tokens are revoked."""
    from .auth import deactivate

    with ctx.session() as session:
        revoked = deactivate(session, _staff_or_fail(session, username), now_utc())
    click.echo(f"deactivated {username}; {revoked} API token(s) revoked")


@user.command("revoke-tokens")
@click.argument("username")
@pass_ctx
def user_revoke_tokens(ctx: Context, username: str) -> None:
    """Revoke every API token of USERNAME (console logins are not touched)."""
    from .auth import revoke_tokens

    with ctx.session() as session:
        revoked = revoke_tokens(session, _staff_or_fail(session, username), now_utc())
    click.echo(f"{revoked} API token(s) revoked")


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


@cli.command("mail-ingest")
@click.option("--mailbox", default=None, help="mailbox it was delivered to (default: CALLCENTER_MAIL_FROM)")
@pass_ctx
def mail_ingest(ctx: Context, mailbox: str | None) -> None:
    """Take one RFC 822 message from stdin (for an MTA pipe). Exit 0 once it is committed to the mail
    spool (a worker makes the ticket within seconds), 75 when the database cannot take it: retry later."""
    from .mailpipe import run_pipe

    code = run_pipe(ctx.settings, sys.stdin.buffer.read(), mailbox)
    if code:
        sys.exit(code)


@cli.command("mail-listen")
@click.option("--lmtp", is_flag=True, help="speak LMTP (for Postfix `lmtp:inet:HOST:PORT`) instead of SMTP")
@click.option("--host", default=None, help="default: CALLCENTER_MAIL_LISTEN_HOST")
@click.option("--port", type=int, default=None,
              help="default: CALLCENTER_MAIL_LMTP_PORT with --lmtp, else CALLCENTER_MAIL_LISTEN_PORT")
@click.option("--processes", type=click.IntRange(1, 64), default=1, show_default=True,
              help="LMTP: processes sharing the port (PostgreSQL: about one per core; SQLite: keep 1)")
@pass_ctx
def mail_listen(ctx: Context, lmtp: bool, host: str | None, port: int | None, processes: int) -> None:
    """Receive mail for the central mailbox: LMTP from an MTA (recommended), or SMTP for small sites."""
    host = host or ctx.settings.mail_listen_host
    if lmtp:
        from .mail.lmtp import serve_processes

        serve_processes(ctx.settings, host, ctx.settings.mail_lmtp_port if port is None else port, processes,
                        lambda: make_session_factory(ctx.engine, ctx.settings))
        return
    import time

    from .mail.smtp_listener import make_controller
    from .wiring import load_services

    load_services()
    server = make_controller(make_session_factory(ctx.engine, ctx.settings), ctx.settings, host=host, port=port)
    server.start()
    log.info("SMTP listener on %s:%s for %s", server.hostname, server.port, ctx.settings.mail_from)
    try:
        while True:
            time.sleep(3600)
    finally:
        server.stop()


@cli.group("mail")
def mail_group() -> None:
    """E-mail channel tools."""


@mail_group.command("imap-poll")
@pass_ctx
def mail_imap_poll(ctx: Context) -> None:
    """Poll the IMAP mailbox once (the worker does this every minute)."""
    from .mail.imap import poll_mailbox
    from .wiring import load_services

    if not ctx.settings.imap_url:
        raise click.ClickException("CALLCENTER_IMAP_URL is not set")
    load_services()
    factory = make_session_factory(ctx.engine, ctx.settings)
    r = poll_mailbox(factory, ctx.settings, now_utc())
    click.echo(f"fetched {r.fetched}: {r.ingested} ingested, {r.duplicates} duplicates, "
               f"{r.quarantined} quarantined, {r.failed} failed")


@mail_group.command("spool-run")
@pass_ctx
def mail_spool_run(ctx: Context) -> None:
    """Ingest what the MTA pipe spooled (the worker does this every second)."""
    from .mail.spool import drain_spool
    from .wiring import load_services

    load_services()
    r = drain_spool(make_session_factory(ctx.engine, ctx.settings), ctx.settings, now_utc())
    click.echo(f"{r.ingested} ingested, {r.quarantined} quarantined, {r.deferred} deferred")


@mail_group.group("quarantine")
def mail_quarantine() -> None:
    """Mail that could not be parsed."""


@mail_quarantine.command("list")
@pass_ctx
def mail_quarantine_list(ctx: Context) -> None:
    """List quarantined mail, newest first."""
    from sqlalchemy import select

    from .models import InboundMail, InboundStatus

    with ctx.session() as session:
        rows = session.scalars(select(InboundMail).where(InboundMail.status == InboundStatus.QUARANTINED)
                               .order_by(InboundMail.id.desc()))
        for r in rows:
            click.echo(f"{r.id}\t{r.received_at:%Y-%m-%d %H:%M}\t{r.from_address or '-'}\t{r.subject or '-'}\t"
                       f"{r.reason}")


@mail_quarantine.command("show")
@click.argument("inbound_id", type=int)
@click.option("--raw", is_flag=True, help="write the raw message bytes to stdout")
@pass_ctx
def mail_quarantine_show(ctx: Context, inbound_id: int, raw: bool) -> None:
    """Show one quarantined mail (or its raw bytes, e.g. to re-feed it to mail-ingest after a fix)."""
    from .models import InboundMail

    with ctx.session() as session:
        r = session.get(InboundMail, inbound_id)
        if r is None:
            raise click.ClickException(f"no inbound mail {inbound_id}")
        if raw:
            sys.stdout.buffer.write(r.raw)
            return
        click.echo(f"id: {r.id}\nstatus: {r.status}\nreason: {r.reason}\nreceived: {r.received_at.isoformat()}\n"
                   f"mailbox: {r.mailbox}\nfrom: {r.from_address}\nsubject: {r.subject}\n"
                   f"message-id: {r.message_id}\nsize: {r.size} bytes")
@mail_quarantine.command("retry")
@click.argument("inbound_id", type=int)
@pass_ctx
def mail_quarantine_retry(ctx: Context, inbound_id: int) -> None:
    """Ingest a quarantined mail again (after the cause was fixed); it stays quarantined if it fails again."""
    from .mail.ingest import ingest
    from .models import InboundMail, InboundStatus
    from .wiring import load_services

    load_services()
    with ctx.session() as session:
        row = session.get(InboundMail, inbound_id)
        if row is None or row.status != InboundStatus.QUARANTINED:
            raise click.ClickException(f"no quarantined mail {inbound_id}")
        raw, mailbox, source, received_at = row.raw, row.mailbox, row.source, row.received_at
        session.delete(row)
        session.flush()
        result = ingest(session, raw, settings=ctx.settings, now=received_at, mailbox=mailbox, source=source)
        if result.outcome == "quarantined":
            raise click.ClickException(f"still quarantined: {result.reason}")
    click.echo(f"{result.outcome}: ticket #{result.ticket_number}")


@cli.group()
def oncall() -> None:
    """On-call rotations: who is on call, the schedule, overrides."""


def _parse_instant(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 instant") from None
    if parsed.tzinfo is None:
        raise click.BadParameter(f"{value!r} needs a UTC offset, e.g. 2026-10-12T08:00+02:00")
    return parsed.astimezone(UTC)


@oncall.command("now")
@click.option("--at", "at", default=None, help="ISO 8601 instant with offset (default: now)")
@pass_ctx
def oncall_now(ctx: Context, at: str | None) -> None:
    """Who is on call now, per rotation."""
    from sqlalchemy import select

    from .models import Rotation
    from .paging.rotations import who_is_on_call

    instant = _parse_instant(at) if at else now_utc()
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

    from .models import Rotation, StaffUser
    from .paging.rotations import RotationError, find_rotation, schedule

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

    from .models import StaffUser
    from .paging.rotations import RotationError, add_override, find_rotation

    with ctx.session() as session:
        user = session.scalar(select(StaffUser).where(StaffUser.username == username))
        if user is None:
            raise click.ClickException(f"no staff user {username!r}")
        try:
            add_override(session, find_rotation(session, rotation_name), user, _parse_instant(start),
                         _parse_instant(end), now=now_utc(), reason=reason)
        except RotationError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"{user.name} covers {rotation_name} from {start} to {end}")


@cli.group()
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

    from .paging import alerts
    from .paging.policies import find_policy
    from .paging.sources import default_policy
    from .tickets import TicketNotFound, get_ticket

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
    from .paging import alerts

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

    from .models import StaffUser
    from .paging import alerts

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


@cli.command("web")
@click.option("--host", default=None)
@click.option("--port", type=int, default=None)
@click.option("--threads", type=int, default=16, show_default=True)
@pass_ctx
def web(ctx: Context, host: str | None, port: int | None, threads: int) -> None:
    """Serve the web console, API and Twilio webhooks only."""
    from waitress import serve

    from . import metrics
    from .app import create_app
    from .runtime import tune_interpreter

    metrics.configure(ctx.settings)
    app = create_app(ctx.settings, ctx.engine)
    host, port = host or ctx.settings.web_host, port or ctx.settings.web_port
    log.info("web on http://%s:%s", host, port)
    tune_interpreter(ctx.settings)
    serve(app, host=host, port=port, threads=threads, ident="hotline")


@cli.command("worker")
@pass_ctx
def worker(ctx: Context) -> None:
    """Run the scheduler ticker only: timers, outbox, periodic jobs (run as many as you like)."""
    from . import metrics
    from .runtime import tune_interpreter
    from .scheduler import Ticker

    metrics.configure(ctx.settings)
    ticker = Ticker(ctx.settings, ctx.engine)
    tune_interpreter(ctx.settings)
    ticker.run_forever()


@cli.command("agi")
@click.option("--host", default=None)
@click.option("--port", type=int, default=None)
@pass_ctx
def agi(ctx: Context, host: str | None, port: int | None) -> None:
    """Serve the FastAGI hotline only (AGI(agi://HOST:4573/hotline))."""
    from webhooks.fastagi import serve_agi

    from . import metrics
    from .runtime import tune_interpreter

    ctx.settings.agi_host = host or ctx.settings.agi_host
    ctx.settings.agi_port = port or ctx.settings.agi_port
    log.info("FastAGI hotline on %s:%s", ctx.settings.agi_host, ctx.settings.agi_port)
    metrics.configure(ctx.settings)
    tune_interpreter(ctx.settings)
    serve_agi(ctx.settings, ctx.engine)


@cli.group()
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

    from .ivr.flow import load_flow
    from .ivr.prompts import PromptToolMissing, build_prompts

    target = Path(out) if out else ctx.settings.prompts_path
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from .models import Company

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


@cli.group("call")
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
    from .ivr.engine import FlowEngine
    from .ivr.simulate import simulate_call
    from .wiring import load_services

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


@cli.command("serve")
@click.option("--host", default=None)
@click.option("--port", type=int, default=None)
@pass_ctx
def serve_all(ctx: Context, host: str | None, port: int | None) -> None:
    """Web, FastAGI and the scheduler in one process (the embedded default)."""
    from waitress import serve

    from . import metrics
    from .app import create_app
    from .runtime import start_background_services, tune_interpreter

    metrics.configure(ctx.settings)
    stop = start_background_services(ctx.settings, ctx.engine)
    app = create_app(ctx.settings, ctx.engine)
    host, port = host or ctx.settings.web_host, port or ctx.settings.web_port
    log.info("web on http://%s:%s", host, port)
    tune_interpreter(ctx.settings)
    try:
        serve(app, host=host, port=port, threads=16, ident="hotline")
    finally:
        stop()


@cli.group("metrics")
def metrics_group() -> None:
    """Prometheus metrics."""


@metrics_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=9464, show_default=True)
@pass_ctx
def metrics_serve(ctx: Context, host: str, port: int) -> None:
    """Serve /metrics alone: this machine's agi and worker processes (CALLCENTER_METRICS_DIR) and the database's
    figures, where no `callcenter web` runs."""
    from waitress import serve

    from . import metrics

    metrics.configure(ctx.settings)
    log.info("metrics on http://%s:%s/metrics", host, port)
    serve(metrics.wsgi_app(ctx.settings, ctx.engine), host=host, port=port, threads=2, ident="hotline-metrics")


@cli.group()
def report() -> None:
    """Reports for customers and for the help desk itself."""


@report.command("quarterly")
@click.option("--company", required=True, help="company name or id")
@click.option("--quarter", required=True, help="e.g. 2026Q3")
@click.option("--format", "fmt", type=click.Choice(["pdf", "csv"]), default="pdf", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, writable=True), required=True,
              help="file to write, - for stdout (csv)")
@click.option("--lang", type=click.Choice(["en", "hu", "el"]), default="en", show_default=True,
              help="language of the PDF")
@pass_ctx
def report_quarterly(ctx: Context, company: str, quarter: str, fmt: str, output: str, lang: str) -> None:
    """Quarterly SLA compliance of one customer as PDF or CSV."""
    from .customers import UnknownCompany
    from .report_export import quarterly_csv, quarterly_pdf
    from .reports import ReportError, quarterly_report

    with ctx.session() as session:
        try:
            # The PDF lists the first 500 breaches, the CSV every one.
            result = quarterly_report(session, company, quarter, now=now_utc(),
                                      breach_limit=None if fmt == "csv" else 500)
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
            from .web.report_views import standalone_pdf_words

            fh.write(quarterly_pdf(result, words=standalone_pdf_words(lang)))
    click.echo(f"{result.company_name} {result.quarter.label}: {result.total.tickets} tickets, "
               f"{result.breach_count} breaches -> {output}", err=True)


from .cli_events import events_group  # noqa: E402  (click only; its commands import lazily)

cli.add_command(events_group)


def main() -> None:
    try:
        cli(prog_name="callcenter")
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
