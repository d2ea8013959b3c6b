"""End to end: real SMTP (aiosmtpd) in and out, the mail-ingest CLI with MTA exit codes, IMAP polling
against tests/fake_imap.py, and the staff quarantine API."""

from __future__ import annotations

import email
import os
import smtplib
import subprocess
import sys
from email import policy

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from fake_imap import FakeImapServer
from hotline_helpers import wait_for_listener
from mailtools import make_mail
from ports import free_port
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from callcenter.cli import cli
from callcenter.mail.imap import poll_mailbox
from callcenter.mail.smtp_listener import make_controller
from callcenter.models import InboundMail, MailSpool, OutboxMessage, Ticket, TicketEvent
from callcenter.providers.smtp import SmtpProvider
from callcenter.scheduler import Ticker
from callcenter.wiring import load_services

load_services()
ANNA = "Kovács Anna <anna@budapest-demo.example>"


class Sink:
    """A test SMTP server that keeps what it receives."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


@pytest.fixture
def sink():
    handler = Sink()
    handler.port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    yield handler
    controller.stop()


@pytest.fixture
def listener(session_factory, settings):
    session_factory.configure(info={"settings": settings})
    port = free_port()
    controller = make_controller(session_factory, settings, host="127.0.0.1", port=port)
    controller.start()
    controller.bound_port = port
    yield controller
    controller.stop()


def deliver(port: int, raw: bytes, to: str = "helpdesk@hotline.example") -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.sendmail("anna@budapest-demo.example", [to], raw)


def drain_smtp(settings, engine, sink) -> list[email.message.EmailMessage]:
    settings.smtp_url = f"smtp://127.0.0.1:{sink.port}"
    ticker = Ticker(settings, engine, providers={"email": SmtpProvider(settings)})
    before = len(sink.received)
    while ticker.drain_outbox():
        pass
    return [email.message_from_bytes(raw, policy=policy.default) for _, _, raw in sink.received[before:]]


def test_smtp_in_auto_reply_out_and_reply_threads(demo, session, settings, engine, listener, sink):
    raw = make_mail(ANNA, "Nem megy a VPN", "Reggel óta nem csatlakozik.", encode_subject="utf-8",
                    attachment=("hiba.png", "image/png", b"\x89PNG..."))
    deliver(listener.bound_port, raw)
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        deliver(listener.bound_port, raw, to="someone@else.example")
    ticket = session.scalar(select(Ticket))
    assert ticket.subject == "Nem megy a VPN" and ticket.reporter_contact_id == demo.anna.id
    assert session.scalar(select(InboundMail)).source == "smtp"

    [reply] = drain_smtp(settings, engine, sink)
    assert reply["To"] == "anna@budapest-demo.example"
    assert str(reply["Subject"]) == f"[#{ticket.number}] Bejelentés rögzítve: Nem megy a VPN"
    assert reply["Auto-Submitted"] == "auto-replied" and reply["X-Auto-Response-Suppress"] == "All"
    body = reply.get_content()
    assert f"#{ticket.number} számon rögzítettük" in body and "Kategória: felhasználói probléma" in body
    assert f"[#{ticket.number}]" in body  # how to reply

    answer = make_mail(ANNA, f"Vá: {reply['Subject']}", "Újraindítottam, most sem megy.",
                       in_reply_to=reply["Message-ID"], encode_subject="utf-8")
    deliver(listener.bound_port, answer)
    deliver(listener.bound_port, answer)  # the MTA retried: recorded once
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Ticket)) == 1
    kinds = [e.kind for e in session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id))]
    assert kinds.count("email") == 1
    assert session.scalar(select(func.count()).select_from(InboundMail)) == 2


def database_down(*a, **kw):
    raise OperationalError("INSERT ...", {}, ConnectionRefusedError("database down"))


def test_listener_answers_451_when_the_database_fails(demo, settings, listener, monkeypatch):
    import callcenter.mail.intake as intake_module

    monkeypatch.setattr(intake_module, "ingest", database_down)
    with pytest.raises(smtplib.SMTPDataError) as info:
        deliver(listener.bound_port, make_mail(ANNA, "x"))
    assert info.value.smtp_code == 451


def run_cli(args, database_url, stdin: bytes):
    return CliRunner().invoke(cli, args, input=stdin, env={"CALLCENTER_DATABASE_URL": database_url})


def test_mail_ingest_cli_exit_codes(demo, session, database_url):
    raw = make_mail("pbx@athens-demo.example", "ΑΠ: Βλάβη στο κέντρο", encode_subject="utf-8")
    first = run_cli(["mail-ingest"], database_url, raw)
    assert first.exit_code == 0 and first.stdout == ""
    assert run_cli(["mail-ingest"], database_url, raw).exit_code == 0  # spooled twice: one is a duplicate
    broken = b"From: x@y.example\r\nContent-Type: multipart/mixed; boundary=Q\r\n\r\nnothing\r\n"
    assert run_cli(["mail-ingest"], database_url, broken).exit_code == 0  # quarantined, not bounced
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(MailSpool)) == 3
    assert session.scalar(select(func.count()).select_from(Ticket)) == 0  # a worker makes the tickets
    drained = run_cli(["mail", "spool-run"], database_url, b"")
    assert drained.exit_code == 0 and drained.output.strip() == "2 ingested, 1 quarantined, 0 deferred"
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Ticket)) == 1
    assert session.scalar(select(Ticket)).subject == "Βλάβη στο κέντρο"
    assert sorted(session.scalars(select(InboundMail.status))) == ["new_ticket", "quarantined"]
    assert set(session.scalars(select(InboundMail.source))) == {"pipe"}
    assert session.scalar(select(func.count()).select_from(MailSpool)) == 0


def test_a_spool_failure_midway_leaves_nothing_but_the_spooled_mail(demo, session, database_url, monkeypatch):
    import callcenter.mail.ingest as ingest_module

    real = ingest_module._store_attachments

    def fail_late(*a, **kw):
        real(*a, **kw)
        raise OSError("database connection lost")

    monkeypatch.setattr(ingest_module, "_store_attachments", fail_late)
    assert run_cli(["mail-ingest"], database_url, make_mail(
        "anna@budapest-demo.example", "half", attachment=("a.png", "image/png", b"png"))).exit_code == 0
    result = run_cli(["mail", "spool-run"], database_url, b"")
    assert result.output.strip() == "0 ingested, 0 quarantined, 1 deferred"
    session.expire_all()
    for model in (Ticket, TicketEvent, InboundMail, OutboxMessage):
        assert session.scalar(select(func.count()).select_from(model)) == 0
    assert session.scalar(select(MailSpool.attempts)) == 1


def test_mail_ingest_subprocess_database_down():
    """A real pipe run against an unreachable database: exit 75 (EX_TEMPFAIL), stdout quiet."""
    env = {**os.environ, "CALLCENTER_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2"}
    proc = subprocess.run([sys.executable, "-m", "callcenter.cli", "mail-ingest"], input=make_mail(ANNA, "x"),
                          capture_output=True, env=env, timeout=60)
    assert proc.returncode == 75 and proc.stdout == b""
    assert b"mail-ingest could not spool the message, the MTA will retry" in proc.stderr


def test_mail_ingest_imports_neither_sqlalchemy_nor_the_models(database_url):
    """The pipe starts one process per message: it stays fast by not importing the application."""
    code = ("import sys, runpy; sys.argv = ['callcenter', 'mail-ingest'];\n"
            "try:\n    runpy.run_module('callcenter.cli', run_name='__main__')\n"
            "except SystemExit as e:\n    assert not e.code, e.code\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'alembic', 'flask')"
            " or m.startswith(('callcenter.models', 'callcenter.mail.')))\n"
            "assert not heavy, heavy")
    env = {**os.environ, "CALLCENTER_DATABASE_URL": database_url}
    proc = subprocess.run([sys.executable, "-c", code], input=make_mail(ANNA, "fast"), capture_output=True,
                          env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()


def test_imap_polling(demo, session, session_factory, settings):
    server = FakeImapServer().start()
    try:
        settings.imap_url = server.url
        session_factory.configure(info={"settings": settings})
        first = server.add(make_mail(ANNA, "Email via IMAP"))
        server.add(b"From: x@y.example\r\nContent-Type: multipart/mixed; boundary=Q\r\n\r\nbroken\r\n")
        server.fail_store = True  # committed but the flag fails: next poll re-reads, harmlessly
        r = poll_mailbox(session_factory, settings, time_now())
        assert (r.fetched, r.ingested, r.quarantined) == (2, 1, 1) and server.seen == set()
        server.fail_store = False
        r = poll_mailbox(session_factory, settings, time_now())
        assert (r.fetched, r.duplicates) == (2, 2) and server.seen == {first, first + 1}
        number = session.scalar(select(Ticket.number))
        server.add(make_mail(ANNA, f"AW: [#{number}] Email via IMAP", "more info"))
        r = poll_mailbox(session_factory, settings, time_now())
        assert (r.fetched, r.ingested) == (1, 1)
        session.expire_all()
        assert session.scalar(select(func.count()).select_from(Ticket)) == 1
        assert {m.source for m in session.scalars(select(InboundMail))} == {"imap"}
        assert any("UID STORE" in line for line in server.log)
    finally:
        server.stop()


def test_imap_poll_leaves_message_unseen_when_ingest_fails(demo, session_factory, settings, monkeypatch):
    import callcenter.mail.intake as intake_module

    server = FakeImapServer().start()
    try:
        settings.imap_url = server.url
        server.add(make_mail(ANNA, "x"))
        monkeypatch.setattr(intake_module, "ingest", database_down)
        r = poll_mailbox(session_factory, settings, time_now())
        assert r.failed == 1 and server.seen == set()
    finally:
        server.stop()


def time_now():
    from datetime import UTC, datetime

    return datetime(2026, 10, 6, 8, 0, tzinfo=UTC)


def test_quarantine_api_and_cli(demo, session, settings, client, api_token, database_url):
    broken = b"From: x@y.example\r\nSubject: kaputt\r\nContent-Type: multipart/mixed; boundary=Q\r\n\r\nnope\r\n"
    from callcenter.mail.ingest import ingest

    ingest(session, broken, settings=settings, now=time_now())
    ingest(session, make_mail("stranger@elsewhere.example", "Hello"), settings=settings, now=time_now())
    session.commit()
    headers = api_token()
    assert client.get("/api/v1/mail/quarantine").status_code == 401
    items = client.get("/api/v1/mail/quarantine", headers=headers).get_json()["items"]
    assert len(items) == 1 and items[0]["subject"] == "kaputt" and "broken MIME" in items[0]["reason"]
    one = client.get(f"/api/v1/mail/quarantine/{items[0]['id']}", headers=headers).get_json()
    import base64

    assert base64.b64decode(one["raw_base64"]) == broken
    triage = client.get("/api/v1/mail/triage", headers=headers).get_json()["items"]
    assert [t["triage"] for t in triage] == ["triage"] and triage[0]["ticket"] is not None
    assert "/mail/quarantine" in client.get("/api/v1/openapi.json").get_json()["paths"]
    listed = CliRunner().invoke(cli, ["mail", "quarantine", "list"], env={"CALLCENTER_DATABASE_URL": database_url})
    assert "kaputt" in listed.output and "broken MIME" in listed.output
    raw = CliRunner().invoke(cli, ["mail", "quarantine", "show", str(items[0]["id"]), "--raw"],
                             env={"CALLCENTER_DATABASE_URL": database_url})
    assert raw.stdout_bytes == broken


def test_mail_listen_command_starts(tmp_path, database_url):
    """`callcenter mail-listen` accepts mail on its port (run as a real process)."""
    port = free_port()
    env = {**os.environ, "CALLCENTER_DATABASE_URL": database_url}
    proc = subprocess.Popen([sys.executable, "-m", "callcenter.cli", "mail-listen", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_listener(port, proc)
        deliver(port, make_mail(ANNA, "via mail-listen"))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    from callcenter.db import make_engine

    engine = make_engine(database_url)
    with engine.connect() as conn:
        assert conn.execute(select(InboundMail.subject)).scalar() == "via mail-listen"
    engine.dispose()
