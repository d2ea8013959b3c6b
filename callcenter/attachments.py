"""Files attached to a ticket's message in the console: checked, named safely, stored with the message."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from sqlalchemy.orm import Session

from .models import Ticket, TicketAttachment, TicketEvent
from .tickets import Actor, TicketError

MAX_FILES = 5
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")
_CONTENT_TYPE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9!#$&^_.+-]{0,60}/[a-zA-Z0-9][a-zA-Z0-9!#$&^_.+-]{0,60}$")


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    data: bytes


def safe_filename(name: str) -> str:
    """The last path part, without control characters or separators, at most 255 characters."""
    base = re.split(r"[/\\]", name or "")[-1]
    cleaned = _UNSAFE.sub("_", base).strip().lstrip(".") or "attachment"
    return cleaned[-255:]


def attach(session: Session, ticket: Ticket, event: TicketEvent, uploads: list[Upload], *, actor: Actor,
           max_bytes: int) -> list[TicketAttachment]:
    """Store the files with `event`; a file that is too large refuses the whole message (nothing half-kept)."""
    if len(uploads) > MAX_FILES:
        raise TicketError(f"at most {MAX_FILES} files per message")
    for up in uploads:
        if len(up.data) > max_bytes:
            raise TicketError(f"{safe_filename(up.filename)} is larger than {max_bytes // (1024 * 1024)} MB")
        if not up.data:
            raise TicketError(f"{safe_filename(up.filename)} is empty")
    stored = []
    for up in uploads:
        content_type = up.content_type if _CONTENT_TYPE.match(up.content_type or "") else "application/octet-stream"
        att = TicketAttachment(ticket_id=ticket.id, event_id=event.id, filename=safe_filename(up.filename),
                               content_type=content_type.lower(), size=len(up.data),
                               sha256=hashlib.sha256(up.data).hexdigest(), data=up.data, uploaded_at=event.at,
                               uploader_kind=actor.kind, uploader_id=actor.id)
        session.add(att)
        stored.append(att)
    session.flush()
    return stored
