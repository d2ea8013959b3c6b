"""Which ticket a mail belongs to (reference Part B.1/B.2), our own Message-IDs, and the signs of
automatic mail that must never get an automatic reply (Part B.4)."""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..config import Settings
from ..models import Contact, InboundMail, OutboundMail, StaffUser, Ticket
from .parse import ParsedMail

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


def own_domain(settings: Settings) -> str:
    return settings.mail_from.rsplit("@", 1)[-1].lower()


def _key(settings: Settings) -> bytes:
    secret = settings.mail_secret or settings.secret_key or ("hotline-mail:" + settings.database_url)
    return hashlib.sha256(secret.encode()).digest()


def _sign(settings: Settings, number: int, article: str) -> str:
    return hmac.new(_key(settings), f"{number}.{article}".encode(), hashlib.sha256).hexdigest()[:12]


def make_message_id(settings: Settings, number: int, article: str | None = None) -> str:
    """`<hl.15789.ab12cd34.<hmac>@own.domain>`: carries the ticket number, checked on the way back."""
    article = article or uuid.uuid4().hex[:10]
    return f"<hl.{number}.{article}.{_sign(settings, number, article)}@{own_domain(settings)}>"


def ticket_reference(settings: Settings, number: int) -> str:
    """The stable id every mail about a ticket references (RT style)."""
    return f"<ticket-{number}@{own_domain(settings)}>"


_OWN_ID = re.compile(r"^hl\.(\d+)\.([0-9a-z]+)\.([0-9a-f]{12})@(.+)$")


def decode_message_id(settings: Settings, message_id: str) -> int | None:
    """The ticket number in one of our Message-IDs, or None when it is not ours or fails the check."""
    match = _OWN_ID.match(message_id.strip().strip("<>").lower())
    if not match or match.group(4) != own_domain(settings):
        return None
    number, article, mac = int(match.group(1)), match.group(2), match.group(3)
    return number if hmac.compare_digest(mac, _sign(settings, number, article)) else None


_MARKER = re.compile(r"\[ref:hl-(\d{1,12})-([0-9a-f]{10})\]", re.IGNORECASE)


def body_marker(settings: Settings, number: int) -> str:
    """The line at the foot of every mail we send (Part B.1 step 4): a reply that lost its headers and
    its subject still carries it in the quoted text. Signed, so it cannot be made up."""
    return f"[ref:hl-{number}-{_sign(settings, number, 'ref')[:10]}]"


def marker_numbers(settings: Settings, *texts: str | None) -> list[int]:
    """Ticket numbers of our body markers in the texts, in order, those whose signature checks."""
    found: list[int] = []
    for text in texts:
        for number, mac in _MARKER.findall(text or ""):
            if hmac.compare_digest(mac.lower(), _sign(settings, int(number), "ref")[:10]) \
                    and int(number) not in found:
                found.append(int(number))
    return found


def is_own_message_id(settings: Settings, message_id: str | None) -> bool:
    return bool(message_id) and message_id.strip().strip("<>").lower().endswith("@" + own_domain(settings))


def sender_may_use_number(session: Session, ticket: Ticket, address: str, contact: Contact | None) -> bool:
    """Only the reporter, a contact of the ticket's company or one of our staff may thread by number
    (osTicket's guard against message injection by third parties)."""
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


def find_ticket(session: Session, settings: Settings, mail: ParsedMail, contact: Contact | None,
                mailbox: str) -> tuple[Ticket | None, str | None, int | None]:
    """(ticket, how it was found, number quoted by a sender who may not use it)."""
    # In-Reply-To is the direct parent: check it first, then References newest first.
    ids = list(reversed(mail.in_reply_to)) + [i for i in reversed(mail.references) if i not in mail.in_reply_to]
    for mid in ids:
        number = decode_message_id(settings, mid)
        if number is not None:
            ticket = session.scalar(select(Ticket).where(Ticket.number == number))
            if ticket is not None:
                return ticket, "message-id", None
    hashes = [id_hash(mid) for mid in ids]
    if hashes:
        ticket_id = session.scalar(select(OutboundMail.ticket_id).where(OutboundMail.message_id_hash.in_(hashes))
                                   .order_by(OutboundMail.id.desc()).limit(1))
        if ticket_id is None:
            ticket_id = session.scalar(
                select(InboundMail.ticket_id).where(InboundMail.message_id_hash.in_(hashes),
                                                    InboundMail.mailbox == mailbox,
                                                    InboundMail.ticket_id.is_not(None))
                .order_by(InboundMail.id.desc()).limit(1))
        if ticket_id is not None:
            return session.get(Ticket, ticket_id), "references", None
    refused = None
    for how, numbers in (("subject", subject_numbers(mail.subject)),
                         ("body-marker", marker_numbers(settings, mail.text, mail.html))):
        for number in numbers:
            ticket = session.scalar(select(Ticket).where(Ticket.number == number))
            if ticket is None:
                continue
            if sender_may_use_number(session, ticket, mail.from_address, contact):
                return ticket, how, None
            refused = refused or number
    return None, None, refused


# Part B.4: headers and senders that mark automatic mail.
_ROBOT_SENDER = re.compile(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?)([+.\-@]|$)", re.I)


def auto_reply_suppression(settings: Settings, mail: ParsedMail) -> str | None:
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
    if is_own_message_id(settings, mail.message_id):
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
