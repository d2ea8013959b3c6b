"""Mail built to exhaust the intake: tens of thousands of MIME parts in a couple of megabytes, or parts
nested thousands deep. Each is quarantined with its bytes and the reason, at a bounded cost, instead
of holding the LMTP session (and Postfix's retries) for minutes while it writes a row per part."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from callcenter.mail.ingest import ingest
from callcenter.mail.parse import MAX_PARTS
from callcenter.models import InboundMail, MailAttachment, Ticket
from callcenter.wiring import load_services

load_services()
NOW = datetime(2026, 10, 6, 8, 0, tzinfo=UTC)
HEAD = (b"From: anna@budapest-demo.example\r\nTo: helpdesk@hotline.example\r\nSubject: %s\r\n"
        b"Message-ID: <%s@client.example>\r\nMIME-Version: 1.0\r\n")


def many_parts(n: int) -> bytes:
    parts = b"".join(b"--B\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=\"a%d.png\"\r\n\r\n"
                     b"x%d\r\n" % (i, i) for i in range(n))
    return (HEAD % (b"many", b"many%d" % n) + b"Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n"
            + b"--B\r\nContent-Type: text/plain\r\n\r\nsee the files\r\n" + parts + b"--B--\r\n")


def nested(depth: int) -> bytes:
    opening = b"".join(b"Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n" % (i, i)
                       for i in range(depth))
    closing = b"".join(b"--b%d--\r\n" % i for i in reversed(range(depth)))
    return HEAD % (b"deep", b"deep%d" % depth) + opening + b"Content-Type: text/plain\r\n\r\nhello\r\n" + closing


def test_a_mail_of_too_many_parts_is_quarantined_without_a_row_per_part(session, settings, demo):
    raw = many_parts(MAX_PARTS * 20)
    result = ingest(session, raw, settings=settings, now=NOW)
    session.commit()
    assert result.outcome == "quarantined" and f"more than {MAX_PARTS} MIME parts" in result.reason
    assert session.get(InboundMail, result.inbound_id).raw == raw
    assert session.scalar(select(func.count()).select_from(MailAttachment)) == 0
    assert session.scalar(select(func.count()).select_from(Ticket)) == 0


def test_a_mail_just_within_the_limit_keeps_all_its_files(session, settings, demo):
    result = ingest(session, many_parts(MAX_PARTS - 2), settings=settings, now=NOW)
    session.commit()
    assert result.outcome == "new_ticket"
    assert session.scalar(select(func.count()).select_from(MailAttachment)) == MAX_PARTS - 2


def test_parts_nested_thousands_deep_are_quarantined(session, settings, demo):
    result = ingest(session, nested(5000), settings=settings, now=NOW)
    session.commit()
    assert result.outcome == "quarantined"
    assert session.scalar(select(func.count()).select_from(Ticket)) == 0
