"""E-mail intake and output: every inbound message (raw bytes kept), its attachments, the ids of
the mails we sent (for threading), the tokens of approval requests and the per-sender auto-reply
counters (loop protection)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow


class InboundStatus(StrEnum):
    NEW_TICKET = "new_ticket"      # opened a ticket
    THREADED = "threaded"          # added to an existing ticket
    QUARANTINED = "quarantined"    # could not be parsed; kept with the reason for staff


class InboundMail(Base):
    """One received message per mailbox; duplicates (MTA retries, IMAP re-reads) hit the unique key.

    A duplicate is the same Message-ID *and* the same content: a different mail that reuses an id
    (a broken client, or someone pre-empting a genuine mail) is stored too, with the reuse noted."""

    __tablename__ = "mail_inbound"
    __table_args__ = (UniqueConstraint("mailbox", "message_id_hash", "content_hash",
                                       name="uq_mail_inbound_mailbox_mid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(254))
    # The Message-ID trimmed of <> (or "raw-sha256:..." when the message has none).
    message_id: Mapped[str] = mapped_column(String(1000))
    message_id_hash: Mapped[str] = mapped_column(String(64), index=True)
    # sha256 of the sender, subject, date and body (line ends and trailing blanks normalised).
    content_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(10))  # pipe, imap, smtp, lmtp, cli
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    status: Mapped[str] = mapped_column(String(12))
    # Why it was quarantined, or what else is worth knowing (a reused Message-ID).
    reason: Mapped[str | None] = mapped_column(Text)
    from_address: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str | None] = mapped_column(String(1000))
    # Why no automatic reply was sent (auto-submitted, list, rate limit ...), None when one was.
    auto_reply_suppressed: Mapped[str | None] = mapped_column(String(200))
    # Unknown sender -> "triage"; known company without a valid contract -> "sales".
    triage: Mapped[str | None] = mapped_column(String(10), index=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_events.id", ondelete="SET NULL"), index=True)

    attachments: Mapped[list[MailAttachment]] = relationship(
        back_populates="inbound", order_by="MailAttachment.id", cascade="all, delete-orphan")


class MailAttachment(Base):
    """An attachment stored with its ticket event; refused ones keep their name and the reason only."""

    __tablename__ = "mail_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    inbound_id: Mapped[int] = mapped_column(ForeignKey("mail_inbound.id", ondelete="CASCADE"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_events.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    rejected: Mapped[str | None] = mapped_column(String(200))

    inbound: Mapped[InboundMail] = relationship(back_populates="attachments")


class OutboundMail(Base):
    """A mail we queued about a ticket: its Message-ID lets replies thread even without a number."""

    __tablename__ = "mail_outbound"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[str] = mapped_column(String(300))
    message_id_hash: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # auto_reply, phase, approval_request, approval_decided
    to_address: Mapped[str] = mapped_column(String(254))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MailApprovalToken(Base):
    """The unguessable token of one approval request mail (in its Message-ID and body marker).

    A decision by mail counts only when the reply brings the token back from the address the request
    went to: proof that its author received the request. Only the token's hash is stored."""

    __tablename__ = "mail_approval_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    approval_id: Mapped[int] = mapped_column(ForeignKey("approvals.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    address: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AutoReplyCounter(Base):
    """Automatic replies sent to one address in the current window (FreeScout: 10 per 180 minutes)."""

    __tablename__ = "mail_auto_reply_counters"

    address: Mapped[str] = mapped_column(String(254), primary_key=True)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    count: Mapped[int] = mapped_column(Integer, default=0)
    last_subject: Mapped[str | None] = mapped_column(String(1000))


class MailSpool(Base):
    """Raw messages the MTA pipe handed over and no worker has ingested yet.

    `callcenter mail-ingest` only appends here (with the database driver alone, so it starts in
    milliseconds) and exits 0 after that commit; a worker turns each row into its ticket in one
    transaction that also deletes the row. A transient failure leaves the row for a later attempt."""

    __tablename__ = "mail_spool"

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(254))
    source: Mapped[str] = mapped_column(String(10))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
