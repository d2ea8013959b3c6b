"""Builders for test mails."""

from __future__ import annotations

from email.header import Header
from email.message import EmailMessage

_counter = [0]


def make_mail(sender: str, subject: str, body: str = "Hello", *, message_id: str | None = "auto",
              in_reply_to: str | None = None, headers: dict | None = None, encode_subject: str | None = None,
              attachment: tuple[str, str, bytes] | None = None, html: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    # Mail clients date every message; an MTA dates one without (and every submission differently).
    msg["Date"] = "Tue, 06 Oct 2026 10:00:00 +0200"
    msg["To"] = "helpdesk@hotline.example"
    if encode_subject:
        # Force an RFC 2047 encoded word, as real clients send non-ASCII subjects.
        msg["Subject"] = " ".join(Header(subject, encode_subject).encode().split())
    else:
        msg["Subject"] = subject
    if message_id == "auto":
        _counter[0] += 1
        message_id = f"<test-{_counter[0]}-{id(msg)}@client.example>"
    if message_id:
        msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    if html:
        msg.add_alternative(html, subtype="html")
    if attachment:
        name, ctype, data = attachment
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()
