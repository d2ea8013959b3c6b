"""`callcenter mail-ingest`, `mail-listen` and `mail ...`: the e-mail channel."""

from __future__ import annotations

import sys

import click

from .context import Context, log, make_session_factory, now_utc, pass_ctx


@click.command("mail-ingest")
@click.option("--mailbox", default=None, help="mailbox it was delivered to (default: CALLCENTER_MAIL_FROM)")
@pass_ctx
def mail_ingest(ctx: Context, mailbox: str | None) -> None:
    """Take one RFC 822 message from stdin (for an MTA pipe). Exit 0 once it is committed to the mail
    spool (a worker makes the ticket within seconds), 75 when the database cannot take it: retry later."""
    from ..mailpipe import run_pipe

    code = run_pipe(ctx.settings, sys.stdin.buffer.read(), mailbox)
    if code:
        sys.exit(code)


@click.command("mail-listen")
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
        from ..mail.lmtp import serve_processes

        serve_processes(ctx.settings, host, ctx.settings.mail_lmtp_port if port is None else port, processes,
                        lambda: make_session_factory(ctx.engine, ctx.settings))
        return
    import time

    from ..mail.smtp_listener import make_controller
    from ..wiring import load_services

    load_services()
    server = make_controller(make_session_factory(ctx.engine, ctx.settings), ctx.settings, host=host, port=port)
    server.start()
    log.info("SMTP listener on %s:%s for %s", server.hostname, server.port, ctx.settings.mail_from)
    try:
        while True:
            time.sleep(3600)
    finally:
        server.stop()


@click.group("mail")
def mail_group() -> None:
    """E-mail channel tools."""


@mail_group.command("imap-poll")
@pass_ctx
def mail_imap_poll(ctx: Context) -> None:
    """Poll the IMAP mailbox once (the worker does this every minute)."""
    from ..mail.imap import poll_mailbox
    from ..wiring import load_services

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
    from ..mail.spool import drain_spool
    from ..wiring import load_services

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

    from ..models import InboundMail, InboundStatus

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
    from ..models import InboundMail

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
    from ..mail.ingest import ingest
    from ..models import InboundMail, InboundStatus
    from ..wiring import load_services

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
