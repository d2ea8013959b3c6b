"""What every outbound provider offers: send one outbox message, say how it went."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class SendResult:
    ref: str | None = None          # provider id, e.g. a Twilio SID
    status: str | None = None       # provider status at acceptance, e.g. "queued"
    final: bool = False             # nothing more will be reported (e-mail handed to SMTP, file saved)
    payload_update: dict = field(default_factory=dict)


class TemporaryError(Exception):
    """Try again later (network trouble, 5xx, 429)."""

    def __init__(self, message: str, code: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code, self.retry_after = code, retry_after


class PermanentError(Exception):
    """Retrying cannot help (invalid number, refused address)."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class Provider(Protocol):
    name: str

    def send(self, message: Any) -> SendResult:
        """Send one message (id, channel, destination, payload); raise Temporary/PermanentError."""
        ...
