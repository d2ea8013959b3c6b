"""Mail with hostile headers, straight into intake (what the LMTP listener, the pipe and IMAP call):
NUL, overlong lines, broken and unknown encodings, raw 8-bit bytes, two Message-IDs, In-Reply-To loops,
no header block at all. Each is stored, as a ticket or quarantined with its reason and raw bytes;
none raises (the MTA would retry it forever) and none is dropped."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from callcenter.mail.intake import ingest_message
from callcenter.models import InboundMail
from callcenter.wiring import load_services

load_services()
NOW = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)
HEAD = (b"From: Kovacs Anna <anna@budapest-demo.example>\r\nTo: helpdesk@hotline.example\r\n"
        b"Date: Tue, 06 Oct 2026 10:00:00 +0200\r\n")


def mail(n: int, headers: bytes, body: bytes = b"Hello\r\n", mid: bytes | None = None) -> bytes:
    return HEAD + b"Message-ID: " + (mid or b"<hostile-%d@client.example>" % n) + b"\r\n" + headers + b"\r\n" + body


CASES = {
    "NUL in the subject": mail(1, b"Subject: a\x00b\r\n"),
    "NUL in the Message-ID": mail(2, b"Subject: x\r\n", mid=b"<p\x00q@client.example>"),
    "a 200 kB subject": mail(3, b"Subject: " + b"x" * 200_000 + b"\r\n"),
    "a 1 MB header line": mail(4, b"X-Junk: " + b"y" * 1_000_000 + b"\r\nSubject: big\r\n"),
    "20,000 headers": mail(5, b"".join(b"X-H%d: v\r\n" % i for i in range(20_000)) + b"Subject: many\r\n"),
    "an encoded word that is no base64": mail(6, b"Subject: =?utf-8?B?!!!not base64?=\r\n"),
    "an unknown charset": mail(7, b"Subject: =?x-unknown-9?Q?caf=E9?=\r\n"),
    "invalid UTF-8 in an encoded word": mail(8, b"Subject: =?utf-8?Q?=FF=FE=ED=A0=80?=\r\n"),
    "raw 8-bit subject": mail(9, b"Subject: caf\xe9 \xff\xfe\r\n"),
    "raw 8-bit From name": (b"From: Kov\xe1cs <anna@budapest-demo.example>\r\nTo: helpdesk@hotline.example\r\n"
                            b"Message-ID: <hostile-10@client.example>\r\nSubject: 8bit\r\n\r\nhi\r\n"),
    "a 100 kB Message-ID": mail(11, b"Subject: x\r\n", mid=b"<" + b"z" * 100_000 + b"@client.example>"),
    "a Message-ID of garbage": mail(12, b"Subject: x\r\n", mid=b"\xff\xfe<<<>>>@@@"),
    "In-Reply-To itself": mail(13, b"In-Reply-To: <hostile-13@client.example>\r\n"
                                   b"References: <hostile-13@client.example>\r\nSubject: self\r\n"),
    "In-Reply-To loop, one": mail(14, b"In-Reply-To: <hostile-15@client.example>\r\nSubject: loop\r\n"),
    "In-Reply-To loop, two": mail(15, b"In-Reply-To: <hostile-14@client.example>\r\nSubject: loop\r\n"),
    "20,000 References": mail(16, b"References: " + b" ".join(b"<r%d@x.example>" % i for i in range(20_000))
                              + b"\r\nSubject: refs\r\n"),
    "a line that is no header": mail(17, b"This is not a header\r\nSubject: x\r\n"),
    "a continuation before any header": b" continuation\r\n" + mail(18, b"Subject: c\r\n"),
    "bare CR and LF": mail(19, b"Subject: a\rb\nc\r\n"),
    "a date out of any range": mail(20, b"Subject: d\r\nDate: Mon, 99 Foo 99999 99:99:99 +9999\r\n"),
    "a charset of raw bytes": mail(21, b"Subject: cs\r\nMIME-Version: 1.0\r\n"
                                      b"Content-Type: text/plain; charset=\"\xff\"\r\n"
                                      b"Content-Transfer-Encoding: quoted-printable\r\n", b"=FF=00=E9\r\n"),
    "a broken base64 body": mail(22, b"Subject: b\r\nContent-Type: text/plain; charset=utf-8\r\n"
                                    b"Content-Transfer-Encoding: base64\r\n", b"!!!!====****\r\n"),
    "a filename of percent garbage": mail(23, b"Subject: fn\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; "
                                             b"boundary=q\r\n", b"--q\r\nContent-Type: application/octet-stream\r\n"
                                             b"Content-Disposition: attachment; filename*=xx'yy'%ff%fe%00.exe\r\n"
                                             b"Content-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--q--\r\n"),
    "no header block at all": bytes(range(256)) * 40,
}
# Quarantined, whatever else: a mail whose identity or structure cannot be read one way only.
QUARANTINED = {
    "two different Message-IDs": (mail(30, b"Message-ID: <hostile-30b@client.example>\r\nSubject: two\r\n"),
                                  "Message-ID"),
    "multipart without a boundary": (mail(31, b"Subject: mp\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n",
                                          b"--x\r\n\r\nhi\r\n--x--\r\n"), "MIME"),
}


def _stored(session_factory, settings, session, raw: bytes):  # noqa: ANN001, ANN202
    before = session.scalar(select(func.count()).select_from(InboundMail))
    result = ingest_message(session_factory, raw, settings=settings, now=NOW, source="lmtp")
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(InboundMail)) == before + 1, result
    row = session.get(InboundMail, result.inbound_id) if result.inbound_id else None
    return result, row


@pytest.mark.parametrize("name", CASES)
def test_a_hostile_header_is_stored_never_raised_nor_dropped(session_factory, settings, demo, session,  # noqa: ANN001
                                                             name: str) -> None:
    result, row = _stored(session_factory, settings, session, CASES[name])
    assert result.outcome in ("new_ticket", "threaded", "quarantined"), result
    if result.outcome == "quarantined":
        assert row is not None and row.reason and row.raw == CASES[name], (row.reason, name)


@pytest.mark.parametrize("name", QUARANTINED)
def test_a_mail_whose_identity_or_structure_is_ambiguous_is_quarantined(session_factory, settings, demo,  # noqa: ANN001
                                                                        session, name: str) -> None:
    raw, why = QUARANTINED[name]
    result, row = _stored(session_factory, settings, session, raw)
    assert result.outcome == "quarantined" and why in (result.reason or ""), result
    assert row.raw == raw and why in row.reason
    # Delivered again (the MTA did not hear our 250): still one row.
    again = ingest_message(session_factory, raw, settings=settings, now=NOW, source="lmtp")
    assert again.outcome == "duplicate"


def test_the_same_message_id_twice_in_one_mail_is_no_ambiguity(session_factory, settings, demo, session) -> None:  # noqa: ANN001
    raw = mail(40, b"Message-ID: <hostile-40@client.example>\r\nSubject: repeated\r\n")
    result, _ = _stored(session_factory, settings, session, raw)
    assert result.outcome == "new_ticket", result
