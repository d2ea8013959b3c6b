"""SMTP delivery of outbox e-mails (STARTTLS or implicit TLS, optional auth)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ..config import Settings
from .base import PermanentError, SendResult, TemporaryError


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


def build_message(message: Any, sender: str) -> EmailMessage:
    p = message.payload
    mail = EmailMessage()
    mail["From"] = p.get("from") or sender
    mail["To"] = message.destination
    if p.get("cc"):
        mail["Cc"] = ", ".join(p["cc"])
    mail["Subject"] = p.get("subject", "")
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = p.get("message_id") or make_msgid(domain=sender.rsplit("@", 1)[-1])
    for name, value in (p.get("headers") or {}).items():
        mail[name] = value
    mail.set_content(p.get("text", ""))
    if p.get("html"):
        mail.add_alternative(p["html"], subtype="html")
    return mail


class SmtpProvider:
    name = "smtp"

    def __init__(self, settings: Settings) -> None:
        self.config = SmtpConfig(settings.smtp_url)
        self.sender = settings.mail_from

    def send(self, message: Any) -> SendResult:
        mail = build_message(message, self.sender)
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
                refused = smtp.send_message(mail)
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
        return SendResult(ref=mail["Message-ID"], status="accepted", final=True)
