"""Polling the central mailbox over IMAP: each unseen message is ingested in its own transaction
and flagged \\Seen only after that commit (a failed flag only causes a harmless duplicate).

Messages are fetched with BODY.PEEK[]: a fetch of RFC822 or BODY[] sets \\Seen on the server as a
side effect (RFC 3501 6.4.5; Dovecot does), and a mail whose ingestion then failed would never be
polled again."""

from __future__ import annotations

import imaplib
import logging
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote, urlsplit

from sqlalchemy.orm import Session, sessionmaker

from ..config import Settings
from ..scheduler import periodic

log = logging.getLogger(__name__)


@dataclass
class ImapConfig:
    ssl: bool
    host: str
    port: int
    username: str
    password: str
    folder: str

    @classmethod
    def from_url(cls, url: str) -> ImapConfig:
        parts = urlsplit(url)
        if parts.scheme not in {"imap", "imaps"}:
            raise ValueError(f"CALLCENTER_IMAP_URL must start with imap:// or imaps://, not {parts.scheme}://")
        secure = parts.scheme == "imaps"
        return cls(secure, parts.hostname or "127.0.0.1", parts.port or (993 if secure else 143),
                   unquote(parts.username or ""), unquote(parts.password or ""),
                   unquote(parts.path.lstrip("/")) or "INBOX")


@dataclass
class PollResult:
    fetched: int = 0
    ingested: int = 0
    duplicates: int = 0
    quarantined: int = 0
    failed: int = 0


def poll_mailbox(factory: sessionmaker[Session], settings: Settings, now: datetime,
                 limit: int = 200) -> PollResult:
    """One pass over the unseen messages of the configured folder."""
    from .intake import ingest_message

    cfg = ImapConfig.from_url(settings.imap_url)
    result = PollResult()
    client = (imaplib.IMAP4_SSL if cfg.ssl else imaplib.IMAP4)(cfg.host, cfg.port, timeout=30)
    try:
        client.login(cfg.username, cfg.password)
        status, _ = client.select(_quote(cfg.folder))
        if status != "OK":
            raise imaplib.IMAP4.error(f"cannot select {cfg.folder}")
        status, data = client.uid("SEARCH", None, "UNSEEN")
        uids = (data[0] or b"").split()[:limit] if status == "OK" else []
        for uid in uids:
            status, parts = client.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next((p[1] for p in parts if isinstance(p, tuple)), None) if status == "OK" else None
            if raw is None:
                result.failed += 1
                continue
            result.fetched += 1
            try:
                outcome = ingest_message(factory, raw, settings=settings, now=now, source="imap").outcome
            except Exception:  # transient (the database): leave it unseen, the next poll tries again
                log.exception("IMAP message uid %s could not be ingested; left unseen", uid.decode())
                result.failed += 1
                continue
            if outcome == "duplicate":
                result.duplicates += 1
            elif outcome == "quarantined":
                result.quarantined += 1
            else:
                result.ingested += 1
            client.uid("STORE", uid, "+FLAGS", "(\\Seen)")
    finally:
        try:
            client.logout()
        except Exception:  # the connection may already be gone
            pass
    return result


def _quote(folder: str) -> str:
    return folder if folder.isalnum() else '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


@periodic("mail-imap-poll", seconds=60)
def imap_job(factory: sessionmaker[Session], settings: Settings, now: datetime) -> None:
    if settings.imap_url:
        poll_mailbox(factory, settings, now)
