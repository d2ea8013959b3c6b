"""Issue 15 items 4 and 5: mail that can never be stored is quarantined, not retried forever; text
stored never carries NUL; a Message-ID reused by a different mail does not hide that mail."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from mailpipe import ANNA, drain_spool, pipe
from mailtools import make_mail
from sqlalchemy import func, select, update
from sqlalchemy.exc import DataError, OperationalError

from callcenter.cli import cli
from callcenter.models import InboundMail, MailAttachment, OutboxMessage, Ticket, TicketEvent
from callcenter.wiring import load_services

load_services()


def count(session, model) -> int:  # noqa: ANN001
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def test_nul_bytes_are_stored_without_them(demo, session, database_url):
    raw = make_mail(ANNA, "Nyomtató\x00 hiba", "Első sor\x00\nmásodik", encode_subject="utf-8",
                    attachment=("na\x00me.txt", "text/plain", b"bytes \x00 are fine in attachments"))
    assert b"\x00" in raw
    assert pipe(database_url, raw) == 0
    t = session.scalar(select(Ticket))
    assert t is not None, "the mail became a ticket"
    assert t.subject == "Nyomtató hiba" and "\x00" not in t.description
    assert all("\x00" not in (e.body or "") for e in t.events)
    att = session.scalar(select(MailAttachment))
    assert att.filename == "name.txt" and att.data == b"bytes \x00 are fine in attachments"
    assert session.scalar(select(InboundMail.raw)) == raw  # the raw bytes are kept as they came


def test_a_failure_that_would_repeat_is_quarantined_with_its_bytes(demo, session, database_url, monkeypatch):
    from callcenter import tickets

    def refused(*a, **kw):
        raise DataError("INSERT INTO tickets ...", {}, ValueError("value out of range"))

    monkeypatch.setattr(tickets, "create_ticket", refused)
    raw = make_mail(ANNA, "this one cannot be stored")
    assert pipe(database_url, raw) == 0  # the MTA must not retry it until it bounces
    row = session.scalar(select(InboundMail))
    assert row.status == "quarantined" and "DataError" in row.reason and row.raw == raw
    assert count(session, Ticket) == 0
    assert pipe(database_url, raw) == 0 and count(session, InboundMail) == 1  # a redelivery is a duplicate
    # Once the cause is fixed, staff feed it again.
    monkeypatch.undo()
    retried = CliRunner().invoke(cli, ["mail", "quarantine", "retry", str(row.id)],
                                 env={"CALLCENTER_DATABASE_URL": database_url})
    assert retried.exit_code == 0 and retried.output.startswith("new_ticket")
    assert count(session, Ticket) == 1 and count(session, InboundMail) == 1


def test_a_transient_failure_leaves_nothing_and_is_tried_again(demo, session, database_url, monkeypatch):
    from datetime import timedelta

    from callcenter import tickets
    from callcenter.models import MailSpool

    real = tickets.create_ticket

    def database_gone(*a, **kw):
        raise OperationalError("INSERT INTO tickets ...", {}, ConnectionResetError("server closed the connection"))

    monkeypatch.setattr(tickets, "create_ticket", database_gone)
    assert pipe(database_url, make_mail(ANNA, "retry me")) == 0  # committed to the spool
    for model in (InboundMail, Ticket, TicketEvent, OutboxMessage):
        assert count(session, model) == 0
    row = session.scalar(select(MailSpool))
    assert row.attempts == 1 and "server closed the connection" in row.last_error
    monkeypatch.setattr(tickets, "create_ticket", real)
    session.execute(update(MailSpool).values(next_attempt_at=row.next_attempt_at - timedelta(minutes=1)))
    session.commit()
    drain_spool(database_url)
    assert count(session, Ticket) == 1 and count(session, MailSpool) == 0


def test_the_pipe_asks_the_mta_to_retry_when_the_database_cannot_take_the_mail(demo, session, database_url,
                                                                                monkeypatch):
    import callcenter.mailpipe as mailpipe

    if database_url.startswith("sqlite"):
        import sqlite3

        monkeypatch.setattr(mailpipe, "SQLITE_BUSY_SECONDS", 0.5)
        blocker = sqlite3.connect(database_url.split("///", 1)[1], isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")  # another writer holds the database
        try:
            assert pipe(database_url, make_mail(ANNA, "locked out")) == 75
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
    assert pipe("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2", make_mail(ANNA, "gone")) == 75
    assert count(session, InboundMail) == 0


def test_a_different_mail_reusing_a_message_id_is_stored_and_noted(demo, session, database_url):
    first = make_mail(ANNA, "Printer jam", "The printer jams.", message_id="<same@client.example>")
    second = make_mail(ANNA, "VPN down", "The VPN is down.", message_id="<same@client.example>")
    assert pipe(database_url, first) == 0
    assert pipe(database_url, second) == 0
    assert sorted(session.scalars(select(Ticket.subject))) == ["Printer jam", "VPN down"]
    rows = list(session.scalars(select(InboundMail).order_by(InboundMail.id)))
    assert rows[0].reason is None and "reuses the Message-ID <same@client.example>" in rows[1].reason
    vpn = session.scalar(select(Ticket).where(Ticket.subject == "VPN down"))
    assert any("reuses the Message-ID" in (e.body or "") for e in vpn.events)
    # Redeliveries of either (even with other line ends) are duplicates.
    assert pipe(database_url, second.replace(b"\n", b"\r\n")) == 0 and pipe(database_url, first) == 0
    assert count(session, InboundMail) == 2 and count(session, Ticket) == 2


@pytest.mark.parametrize("trace", [b"Received: from relay2.example by mx.hotline.example; Mon, 5 Oct 2026\r\n",
                                   b"Delivered-To: helpdesk@hotline.example\r\n"])
def test_the_same_mail_by_another_route_is_still_a_duplicate(demo, session, database_url, trace):
    raw = make_mail(ANNA, "Switch dead", "port 4")
    assert pipe(database_url, raw) == 0
    assert pipe(database_url, trace + raw) == 0
    assert count(session, InboundMail) == 1


@pytest.mark.parametrize("trace", [b"Received: from relay2.example by mx.hotline.example; Mon, 5 Oct 2026\r\n",
                                   b"Delivered-To: helpdesk@hotline.example\r\n"
                                   b"X-Original-To: helpdesk@hotline.example\r\n",
                                   b"Return-Path: <anna@budapest-demo.example>\r\n"])
def test_a_mail_without_message_id_by_another_route_is_still_a_duplicate(demo, session, database_url, trace):
    # Its stand-in id must not depend on what MTAs add on the way: the sender's MTA that did not hear our
    # 250 sends it again, maybe by the backup MX, and it must not become a second ticket.
    raw = make_mail(ANNA, "Disk full", "on srv1", message_id=None)
    assert pipe(database_url, raw) == 0
    assert pipe(database_url, trace + raw) == 0
    assert count(session, InboundMail) == 1 and count(session, Ticket) == 1
    # Two mails without ids that differ are two mails.
    assert pipe(database_url, make_mail(ANNA, "Disk full", "on srv2", message_id=None)) == 0
    assert count(session, Ticket) == 2
