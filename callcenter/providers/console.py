"""The embedded default: log what would be sent, so `make run` works without Twilio or SMTP."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from .base import SendResult

log = logging.getLogger("callcenter.console")


class ConsoleProvider:
    name = "console"

    def send(self, message: Any) -> SendResult:
        p = message.payload
        text = p.get("body") or p.get("say") or p.get("subject") or ""
        log.info("[%s to %s] %s", message.channel, message.destination, text)
        return SendResult(ref=f"console-{uuid.uuid4().hex[:12]}", status="logged", final=True)
