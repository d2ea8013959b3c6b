"""Which ticket a mail belongs to (reference Part B.1/B.2), with the sender check on every path,
bounces of our own mail, and the signs of automatic mail that must never get an automatic reply
(Part B.4)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from ..config import Settings
from ..models import Contact, InboundMail, OutboundMail, StaffUser, Ticket
from .parse import ParsedMail
from .signing import MailSigner

# Reply and forward prefixes (Part B.2), casefolded; Hungarian and Greek from the Wikipedia list.
PREFIXES = ["re", "fw", "fwd", "aw", "wg", "sv", "vs", "vb", "vl", "antw", "doorst", "ref", "tr",
            "vá", "továbbítás", "απ", "σχετ", "πρθ"]
_PREFIX = re.compile(
    r"^\s*(?:" + "|".join(sorted((re.escape(p) for p in PREFIXES), key=len, reverse=True)) + r")"
    r"\s*(?:\[\d+\]|\^\d+|\(\d+\))?\s*:\s*",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\[#(\d{3,12})\]|(?<![\w#])#(\d{3,12})\b")


def strip_prefixes(subject: str) -> str:
    """Remove reply/forward prefixes repeatedly from the start (`Re: AW: Vá:`), comparing casefolded."""
    text = subject or ""
    while True:
        folded = text.casefold()
        match = _PREFIX.match(folded)
        # casefold can change lengths (ß -> ss); only cut when the prefix maps one to one.
        if not match or folded[: match.end()] != text[: match.end()].casefold():
            return text.strip()
        text = text[match.end():]


def subject_numbers(subject: str) -> list[int]:
    return [int(a or b) for a, b in _NUMBER.findall(subject or "")]


def id_hash(message_id: str) -> str:
    return hashlib.sha256(message_id.strip().strip("<>").strip().encode("utf-8", "replace")).hexdigest()


def sender_may_use_ticket(session: Session, ticket: Ticket, address: str, contact: Contact | None) -> bool:
    """Only the reporter, a contact of the ticket's company or one of our staff may add to a ticket
    by mail (osTicket's guard against message injection by third parties), whatever path found it."""
    address = address.lower()
    if ticket.reporter_email and ticket.reporter_email.lower() == address:
        return True
    if contact is not None and ticket.company_id is not None and contact.company_id == ticket.company_id:
        return True
    if ticket.company is not None and ticket.company.mail_domain and \
            address.rsplit("@", 1)[-1] == ticket.company.mail_domain.lower():
        return True
    staff = session.scalar(select(StaffUser.id).where(func.lower(StaffUser.email) == address,
                                                      StaffUser.active.is_(True)))
    return staff is not None


@dataclass
class Thread:
    """Which ticket a mail joins: found how, or which number it pointed at but may not use."""

    ticket: Ticket | None = None
    how: str | None = None
    refused: int | None = None


_BY_NUMBER = select(Ticket).where(Ticket.number == bindparam("number"))  # built once: run for most mails


def _ticket_by_number(session: Session, number: int) -> Ticket | None:
    return session.scalar(_BY_NUMBER, {"number": number})


def _by_known_ids(session: Session, ids: list[str], mailbox: str, inbound_too: bool = True) -> Ticket | None:
    hashes = [id_hash(mid) for mid in ids]
    if not hashes:
        return None
    ticket_id = session.scalar(select(OutboundMail.ticket_id).where(OutboundMail.message_id_hash.in_(hashes))
                               .order_by(OutboundMail.id.desc()).limit(1))
    if ticket_id is None and inbound_too:
        ticket_id = session.scalar(
            select(InboundMail.ticket_id).where(InboundMail.message_id_hash.in_(hashes),
                                                InboundMail.mailbox == mailbox,
                                                InboundMail.ticket_id.is_not(None))
            .order_by(InboundMail.id.desc()).limit(1))
    return session.get(Ticket, ticket_id) if ticket_id is not None else None


def find_ticket(session: Session, signer: MailSigner, mail: ParsedMail, contact: Contact | None,
                mailbox: str) -> Thread:
    """The ticket a mail belongs to (reference B.1), first match wins; every path applies the sender
    check: a path that finds a ticket the sender may not use is remembered as refused."""
    # In-Reply-To is the direct parent: check it first, then References newest first.
    ids = list(reversed(mail.in_reply_to)) + [i for i in reversed(mail.references) if i not in mail.in_reply_to]
    refused: int | None = None

    def candidates():  # noqa: ANN202  (lazily: most mails stop at the first)
        for mid in ids:
            own = signer.decode(mid)
            if own is not None:
                yield "message-id", lambda own=own: _ticket_by_number(session, own.number)
        yield "references", lambda: _by_known_ids(session, ids, mailbox)
        for number in subject_numbers(mail.subject):
            yield "subject", lambda number=number: _ticket_by_number(session, number)
        for mark in signer.markers(mail.text, mail.html):
            yield "body-marker", lambda mark=mark: _ticket_by_number(session, mark.number)

    for how, lookup in candidates():
        ticket = lookup()
        if ticket is None:
            continue
        if sender_may_use_ticket(session, ticket, mail.from_address, contact):
            return Thread(ticket, how)
        refused = refused or ticket.number
    return Thread(None, None, refused)


def find_returned_ticket(session: Session, signer: MailSigner, mail: ParsedMail) -> Ticket | None:
    """The ticket of our own mail that a bounce returns: found by our signed Message-ID (or another
    id we sent) in the returned headers, or by our signed marker in the returned text. The sender is
    a mail server, so there is no sender check; such a mail is only ever recorded, never acted on."""
    for mid in mail.attached_ids:
        own = signer.decode(mid)
        if own is not None and (ticket := _ticket_by_number(session, own.number)) is not None:
            return ticket
    ticket = _by_known_ids(session, mail.attached_ids, "", inbound_too=False)
    if ticket is not None:
        return ticket
    for mark in signer.markers(mail.text, mail.html):
        if (ticket := _ticket_by_number(session, mark.number)) is not None:
            return ticket
    return None


def is_bounce(mail: ParsedMail) -> bool:
    """A delivery report (RFC 3464) or a mail from a mail server's robot address."""
    ctype = mail.header("content-type").lower()
    if ctype.startswith("multipart/report") and "delivery-status" in ctype:
        return True
    if mail.return_path is not None and mail.return_path.strip() in {"<>", ""}:
        return True
    return bool(_MTA_SENDER.match(mail.from_address.split("@", 1)[0] + "@"))


# Part B.4: headers and senders that mark automatic mail.
_ROBOT_SENDER = re.compile(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?)([+.\-@]|$)", re.I)
_MTA_SENDER = re.compile(r"^(mailer-daemon|postmaster)([+.\-@]|$)", re.I)


def auto_reply_suppression(settings: Settings, signer: MailSigner, mail: ParsedMail) -> str | None:
    """Why this mail must not get an automatic reply, or None."""
    auto = mail.header("auto-submitted").strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    precedence = mail.header("precedence").strip().lower()
    if precedence in {"bulk", "junk", "list", "auto_reply"}:
        return f"Precedence: {precedence}"
    suppress = {v.strip().lower() for v in mail.header("x-auto-response-suppress").split(",")}
    if suppress & {"all", "autoreply", "oof"}:
        return "X-Auto-Response-Suppress"
    for name in mail.headers:
        if name.startswith("list-"):
            return f"mailing list ({name})"
    helpdesk = settings.mail_from.lower()
    if any(v.strip().lower() == helpdesk for v in mail.headers.get("x-loop", [])):
        return "X-Loop: our own address"
    if signer.is_own_domain_id(mail.message_id):
        return "our own Message-ID"
    if mail.from_address == helpdesk:
        return "sent from our own address"
    if mail.return_path is not None and mail.return_path.strip() in {"<>", ""}:
        return "bounce (empty Return-Path)"
    if _ROBOT_SENDER.match(mail.from_address.split("@", 1)[0] + "@"):
        return f"robot sender {mail.from_address}"
    if "x-autoreply" in mail.headers or "x-autorespond" in mail.headers:
        return "vacation responder"
    return None
