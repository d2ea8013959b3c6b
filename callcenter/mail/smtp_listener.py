"""Optional built-in SMTP listener (aiosmtpd) for small installations without an MTA pipe.

Accepts mail only for the central mailbox and answers 250 only after the database commit;
any failure answers 451 so the sending server retries (reference Part B.6).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session, sessionmaker

from ..config import Settings

log = logging.getLogger(__name__)


class IngestHandler:
    def __init__(self, factory: sessionmaker[Session], settings: Settings,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.factory, self.settings, self.clock = factory, settings, clock
        self.mailboxes = {settings.mail_from.lower()}

    async def handle_RCPT(self, server, session, envelope, address: str, rcpt_options):  # noqa: ANN001, ANN201
        if address.lower() not in self.mailboxes:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            for mailbox in {r.lower() for r in envelope.rcpt_tos}:
                await asyncio.get_running_loop().run_in_executor(None, self._ingest, raw, mailbox)
        except Exception:
            log.exception("SMTP listener could not store a message; asked the sender to retry")
            return "451 4.3.0 temporary failure, try again later"
        return "250 OK stored"

    def _ingest(self, raw: bytes, mailbox: str) -> None:
        from .intake import ingest_message

        ingest_message(self.factory, raw, settings=self.settings, now=self.clock(), mailbox=mailbox, source="smtp")


def make_controller(factory: sessionmaker[Session], settings: Settings, *, host: str | None = None,
                    port: int | None = None) -> Controller:
    handler = IngestHandler(factory, settings)
    return Controller(handler, hostname=host or settings.mail_listen_host,
                      port=settings.mail_listen_port if port is None else port,
                      data_size_limit=settings.mail_max_message_bytes + 1024 * 1024, decode_data=False)
