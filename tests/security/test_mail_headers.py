"""Issue 15 items 6 and 7: outbound headers are safe whatever text was stored, inbound ids are
validated, and a mail goes to exactly one address."""

from __future__ import annotations

import email
from email import policy

import pytest
from aiosmtpd.controller import Controller
from mailpipe import ANNA, mails_to, pipe
from mailtools import make_mail
from ports import free_port
from sqlalchemy import select

from callcenter import tickets
from callcenter.models import InboundMail, OutboxMessage, Status, Ticket
from callcenter.providers.smtp import SmtpProvider
from callcenter.scheduler import Ticker
from callcenter.wiring import load_services

load_services()


class Sink:
    def __init__(self) -> None:
        self.received: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201
        self.received.append((list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


@pytest.fixture
def sink():  # noqa: ANN201
    handler = Sink()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    handler.port = port
    yield handler
    controller.stop()


def drain(settings, engine, sink) -> list[tuple[list[str], email.message.EmailMessage]]:  # noqa: ANN001
    settings.smtp_url = f"smtp://127.0.0.1:{sink.port}"
    ticker = Ticker(settings, engine, providers={"email": SmtpProvider(settings)})
    before = len(sink.received)
    while ticker.drain_outbox():
        pass
    return [(to, email.message_from_bytes(raw, policy=policy.default)) for to, raw in sink.received[before:]]


def test_a_subject_with_line_breaks_cannot_add_headers_nor_poison_the_ticket(demo, session, settings, engine,
                                                                             sink, now):
    session.info["settings"] = settings
    t = tickets.create_ticket(session, tickets.NewTicket(
        subject="Printer\r\nBcc: victim@evil.example", channel="api", category="user",
        reporter_contact_id=demo.anna.id), now=now)
    tickets.add_note(session, t, "We are on it.", actor=tickets.SYSTEM, now=now, public=True)
    session.commit()
    delivered = drain(settings, engine, sink)
    assert [to for to, _ in delivered] == [[ANNA], [ANNA]]  # the auto-reply and the phase mail, once each
    for _, mail in delivered:
        assert mail["Bcc"] is None and "\n" not in str(mail["Subject"])
        assert "Printer Bcc: victim@evil.example" in str(mail["Subject"])
    session.expire_all()
    assert {m.state for m in session.scalars(select(OutboxMessage))} == {"delivered"}


def test_an_inbound_message_id_with_line_breaks_is_not_stored_nor_repeated(demo, session, settings, engine,
                                                                          database_url, sink):
    raw = make_mail(ANNA, "Badge reader", message_id=None)
    raw = b"Message-ID: =?utf-8?q?<evil=0D=0ABcc:_victim@evil.example>?=\r\n" + raw
    assert pipe(database_url, raw) == 0
    stored = session.scalar(select(InboundMail.message_id))
    assert "\r" not in stored and "\n" not in stored
    [(to, reply)] = drain(settings, engine, sink)
    assert to == [ANNA] and reply["Bcc"] is None and "\n" not in str(reply["In-Reply-To"] or "")


def test_a_ticket_poisoned_before_the_fix_still_gets_its_mails(demo, session, settings, engine, database_url, sink):
    """Rows written by an earlier version may hold an id with CR/LF: later mails skip it, and go out."""
    assert pipe(database_url, make_mail(ANNA, "Old ticket")) == 0
    row = session.scalar(select(InboundMail))
    row.message_id = "evil\r\nBcc: victim@evil.example"
    t = session.scalar(select(Ticket))
    session.info["settings"] = settings
    tickets.change_status(session, t, Status.ACKNOWLEDGED, actor=tickets.SYSTEM, now=t.created_at)
    session.commit()
    delivered = drain(settings, engine, sink)
    assert len(delivered) == 2 and all(m["Bcc"] is None for _, m in delivered)
    # The outbox sends a batch concurrently: the phase mail is the one not answering the customer's mail.
    [phase] = [m for _, m in delivered if m["Auto-Submitted"] == "auto-generated"]
    assert phase["In-Reply-To"] is None


def test_reporter_email_must_be_one_address_in_the_api(demo, client, api_token, session):
    body = {"subject": "Printer", "category": "user", "company": "Budapest Demo Kft.",
            "reporter_email": f"{ANNA}, victim@evil.example"}
    resp = client.post("/api/v1/tickets", json=body, headers=api_token())
    assert resp.status_code == 422 and "one e-mail address" in resp.get_json()["error"]
    assert session.scalar(select(Ticket)) is None


def test_a_stored_address_list_gets_no_mail(demo, session, settings, engine, sink, now):
    """A reporter_email stored before validation: no mail is queued to it, the ticket says why; and the
    provider itself refuses a list as the destination."""
    session.info["settings"] = settings
    t = tickets.create_ticket(session, tickets.NewTicket(subject="Printer", channel="api", category="user"), now=now)
    t.reporter_email = f"{ANNA}, victim@evil.example"
    tickets.add_note(session, t, "On it.", actor=tickets.SYSTEM, now=now, public=True)
    session.commit()  # the phase mail is an after-commit handler (callcenter/handlers.py)
    session.expire_all()
    assert mails_to(session, t.reporter_email) == []
    assert any("not exactly one e-mail address" in (e.body or "") for e in t.events)
    from callcenter import outbox

    outbox.enqueue(session, key="x", channel="email", destination=f"{ANNA}, victim@evil.example", now=now,
                   source_kind="mail", source_id=t.id, payload={"subject": "s", "text": "t"})
    session.commit()
    assert drain(settings, engine, sink) == []
    session.expire_all()
    failed = session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == "x"))
    assert failed.state == "failed" and "one e-mail address" in failed.last_error


def test_ingest_keeps_a_sender_that_is_no_single_address_without_mailing_it(demo, session, database_url):
    raw = b"From: odd@localhost\r\nSubject: hi\r\nMessage-ID: <odd-1@localhost.example>\r\n\r\nhello\r\n"
    assert pipe(database_url, raw) == 0
    t = session.scalar(select(Ticket))
    assert t.reporter_email is None and t.reporter_name == "odd@localhost"
    assert session.scalar(select(OutboxMessage)) is None
