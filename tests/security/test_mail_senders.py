"""A From header that two readers would read differently is not trusted.

Python 3.11's parseaddr (CVE-2023-27043) and the header registry both take the first address-looking
word of `anna@customer <mallory@elsewhere>`, while the MTA's DMARC check and the reader's mail client
take the angle address: Mallory passes DMARC for her own domain and Hotline would have taken her for
Anna. Such a sender, several From addresses or several From headers are quarantined with the reason."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from callcenter.mail.ingest import ingest
from callcenter.mail.parse import MailParseError, parse_message
from callcenter.models import InboundMail, Ticket
from callcenter.wiring import load_services

load_services()
NOW = datetime(2026, 10, 6, 8, 0, tzinfo=UTC)
_n = [0]


def raw_mail(*froms: str, subject: str = "Printer", extra: str = "") -> bytes:
    _n[0] += 1
    head = "".join(f"From: {f}\r\n" for f in froms)
    return (f"{head}To: helpdesk@hotline.example\r\nSubject: {subject}\r\nMessage-ID: <s{_n[0]}@client.example>\r\n"
            f"Date: Tue, 06 Oct 2026 10:00:00 +0200\r\n{extra}Content-Type: text/plain; charset=utf-8\r\n\r\n"
            "Solved, please close it.\r\n").encode()


def parse(raw: bytes):  # noqa: ANN201
    return parse_message(raw, max_message_bytes=10**7, max_attachment_bytes=10**6)


AMBIGUOUS = [
    "anna@budapest-demo.example <mallory@elsewhere.example>",
    "<anna@budapest-demo.example>@elsewhere.example",
    'anna@budapest-demo.example"@elsewhere.example',
    "anna@budapest-demo.example (x) <mallory@elsewhere.example>",
    "mallory@elsewhere.example <anna@budapest-demo.example>, anna@budapest-demo.example",
    "anna@budapest-demo.example, mallory@elsewhere.example",
    "alice@elsewhere.example)<anna@budapest-demo.example>",
]


@pytest.mark.parametrize("value", AMBIGUOUS)
def test_a_from_header_read_two_ways_is_refused(value):
    with pytest.raises(MailParseError, match="sender"):
        parse(raw_mail(value))


def test_two_from_headers_are_refused():
    with pytest.raises(MailParseError, match="From headers"):
        parse(raw_mail("mallory@elsewhere.example", "anna@budapest-demo.example"))


@pytest.mark.parametrize(("value", "name", "address"), [
    ("anna@budapest-demo.example", "", "anna@budapest-demo.example"),
    ("Kovács Anna <Anna@Budapest-Demo.example>", "Kovács Anna", "anna@budapest-demo.example"),
    ("=?utf-8?q?Kov=C3=A1cs_Anna?= <anna@budapest-demo.example>", "Kovács Anna", "anna@budapest-demo.example"),
    ('"Kovács, Anna" <anna@budapest-demo.example>', "Kovács, Anna", "anna@budapest-demo.example"),
    ('"anna@budapest-demo.example" <mallory@elsewhere.example>', "anna@budapest-demo.example",
     "mallory@elsewhere.example"),
    ("anna@budapest-demo.example (Anna)", "Anna", "anna@budapest-demo.example"),
    ("  Anna   <anna@budapest-demo.example>  ", "Anna", "anna@budapest-demo.example"),
    # Some phones and webmails write the address as its own name: one address, read alike by everyone.
    ("Anna@Budapest-Demo.example <anna@budapest-demo.example>", "", "anna@budapest-demo.example"),
])
def test_ordinary_senders_are_read_as_before(value, name, address):
    mail = parse(raw_mail(value))
    assert (mail.from_name, mail.from_address) == (name, address)


def test_mallory_cannot_reply_on_annas_ticket_as_anna(session, settings, demo):
    first = ingest(session, raw_mail("Kovács Anna <anna@budapest-demo.example>"), settings=settings, now=NOW)
    session.commit()
    number = first.ticket_number
    forged = raw_mail("anna@budapest-demo.example <mallory@elsewhere.example>", subject=f"Re: [#{number}] Printer",
                      extra="Authentication-Results: mx.hotline.example; dmarc=pass header.from=elsewhere.example\r\n")
    result = ingest(session, forged, settings=settings, now=NOW)
    session.commit()
    assert result.outcome == "quarantined" and "sender" in result.reason
    row = session.get(InboundMail, result.inbound_id)
    assert row.ticket_id is None and row.raw == forged
    annas = session.scalar(select(Ticket).where(Ticket.number == number))
    assert [e.kind for e in annas.events] == ["created"]
    assert session.scalar(select(func.count()).select_from(Ticket)) == 1
