"""SMTP delivery of outbox e-mails (STARTTLS or implicit TLS, optional auth)."""

from __future__ import annotations

import re
import smtplib
import ssl
from email import policy
from email.header import Header
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ..config import Settings
from ..text import InvalidAddress, email_address, header_value
from .base import PermanentError, SendResult, TemporaryError

_HEADER_NAME = re.compile(r"[!-9;-~]{1,76}")
# Set by build_message itself; a payload header of the same name is ignored.
_OWN_HEADERS = {"from", "to", "cc", "subject", "date", "message-id", "mime-version", "content-type",
                "content-transfer-encoding"}


class SmtpConfig:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"}:
            raise ValueError(f"CALLCENTER_SMTP_URL must start with smtp:// or smtps://, not {parts.scheme}://")
        query = parse_qs(parts.query)
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.starttls = query.get("starttls", ["0"])[0] in {"1", "true", "yes"}
        self.verify = query.get("verify", ["1"])[0] not in {"0", "false", "no"}
        self.timeout = float(query.get("timeout", ["20"])[0])


def encode_subject(subject: str) -> str:
    """The Subject as RFC 2047 encoded words, folded, with every space inside a word.

    Python's email package before 3.13 drops the space next to an encoded word when it folds some
    subjects ("Το κέντρο" arrived as "Τοκέντρο"): we encode the whole subject ourselves, and the
    message generator never refolds it."""
    subject = header_value(subject)
    charset = "us-ascii" if subject.isascii() else "utf-8"
    return Header(subject, charset, header_name="Subject").encode(linesep="\r\n")


def build_message(message: Any, sender: str) -> tuple[str, bytes]:
    """(recipient, message bytes with CRLF line ends) of one outbox mail.

    Every header value is made safe (no line breaks from stored text); the recipient must be exactly
    one address (InvalidAddress otherwise)."""
    p = message.payload
    to = email_address(message.destination)
    mail = EmailMessage(policy=policy.SMTP)
    mail["From"] = header_value(p.get("from") or sender)
    mail["To"] = to
    if p.get("cc"):
        mail["Cc"] = ", ".join(email_address(a) for a in p["cc"])
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = header_value(p.get("message_id") or "") or make_msgid(domain=sender.rsplit("@", 1)[-1])
    for name, value in (p.get("headers") or {}).items():
        if _HEADER_NAME.fullmatch(name) and name.lower() not in _OWN_HEADERS:
            mail[name] = header_value(str(value))
    mail.set_content(p.get("text", ""))
    if p.get("html"):
        mail.add_alternative(p["html"], subtype="html")
    subject = f"Subject: {encode_subject(p.get('subject', ''))}\r\n".encode("ascii")
    return to, subject + mail.as_bytes()


class SmtpProvider:
    name = "smtp"

    def __init__(self, settings: Settings) -> None:
        self.config = SmtpConfig(settings.smtp_url)
        self.sender = settings.mail_from

    def send(self, message: Any) -> SendResult:
        try:
            to, raw = build_message(message, self.sender)
        except InvalidAddress as exc:
            raise PermanentError(f"not sent: {exc}") from exc
        c = self.config
        context = ssl.create_default_context()
        if not c.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        try:
            if c.implicit_tls:
                smtp = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=context)
            else:
                smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
            with smtp:
                if c.starttls:
                    smtp.starttls(context=context)
                if c.username:
                    smtp.login(c.username, c.password or "")
                refused = smtp.sendmail(self.sender, [to], raw)
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentError(f"recipient refused: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            text = f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
            if 500 <= exc.smtp_code < 600:
                raise PermanentError(text, str(exc.smtp_code)) from exc
            raise TemporaryError(text, str(exc.smtp_code)) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TemporaryError(f"SMTP server unreachable: {exc}") from exc
        if refused:
            raise PermanentError(f"recipient refused: {refused}")
        return SendResult(ref=message.payload.get("message_id"), status="accepted", final=True)
