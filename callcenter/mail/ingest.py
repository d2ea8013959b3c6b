"""The one ingestion service behind every intake path (MTA pipe, IMAP polling, SMTP listener).

ingest() works inside the caller's transaction: the inbound row, the ticket or its new event, the
attachments and the auto-reply's outbox row commit together or not at all (reference Part B.6).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from .. import events, tickets, unit_of_work
from ..config import Settings
from ..directory import identify_sender_cached
from ..models import (
    Category,
    Channel,
    Contact,
    InboundMail,
    InboundStatus,
    MailAttachment,
    Status,
    Ticket,
)
from ..text import is_email_address, strip_nul
from .decisions import approval_decision, authentication_failure, decide_approvals_by_mail, state_change_refusal
from .parse import MailParseError, ParsedMail, content_hash, parse_message, raw_key, sniff_message_id
from .signing import signer_for
from .threading import (
    auto_reply_suppression,
    find_returned_ticket,
    find_ticket,
    id_hash,
    is_bounce,
    strip_prefixes,
)

__all__ = ["CONTEXT_KEY", "IngestResult", "MailContext", "approval_decision", "guess_category", "ingest",
           "quarantine"]

CONTEXT_KEY = "mail_context"
_REACTIONS_KEY = "mail_reactions_now"


@dataclass
class MailContext:
    """The mail being ingested, for the services it calls (in session.info)."""

    inbound: InboundMail
    suppress: str | None


@dataclass
class IngestResult:
    outcome: str  # new_ticket, threaded, quarantined, duplicate
    inbound_id: int | None = None
    ticket_number: int | None = None
    reason: str | None = None


# Written special requests, recognised in the subject or the first lines (hu, el, en, de).
CATEGORY_WORDS: list[tuple[str, tuple[str, ...]]] = [
    (Category.PERMISSION_CHANGE, ("permission", "access right", "jogosultság", "hozzáférés", "δικαιώματ",
                                  "πρόσβαση", "berechtigung")),
    (Category.DEVICE_ORDER, ("device order", "order a ", "eszközrendelés", "eszköz rendelés", "megrendel",
                             "παραγγελία", "παραγγελ", "bestellung")),
    (Category.COMPLAINT, ("complaint", "panasz", "reklamáció", "παράπονο", "beschwerde")),
    (Category.QUOTE, ("quote", "quotation", "árajánlat", "προσφορά", "angebot")),
]

def guess_category(subject: str, text: str) -> str:
    haystack = (subject + "\n" + "\n".join(text.splitlines()[:5])).casefold()
    for category, words in CATEGORY_WORDS:
        if any(w in haystack for w in words):
            return category
    return Category.USER


def ingest(session: Session, raw: bytes, *, settings: Settings, now: datetime, mailbox: str | None = None,
           source: str = "pipe", reactions: bool = True) -> IngestResult:
    """Record one RFC 822 message: duplicate, quarantined, a new ticket or a new event on one.

    The reactions to it (the auto-reply, ...) run in this transaction, each in a savepoint
    (`unit_of_work.dispatch_in_transaction`); `reactions=False` leaves that to the caller, who stores
    several mails in one transaction and runs them all at its end (callcenter/mail/group.py)."""
    mailbox = (mailbox or settings.mail_from).strip().lower()
    session.info[_REACTIONS_KEY] = reactions
    session.info["settings"] = settings
    signer = signer_for(session, settings)
    digest = content_hash(raw)
    try:
        mail = parse_message(raw, max_message_bytes=settings.mail_max_message_bytes,
                             max_attachment_bytes=settings.mail_max_attachment_bytes)
    except MailParseError as exc:
        key = sniff_message_id(raw) or raw_key(raw)
        return quarantine(session, raw, str(exc), key=key, mailbox=mailbox, source=source, now=now)

    key = mail.message_id or raw_key(raw)
    earlier = _earlier(session, mailbox, key, digest)
    if earlier is not None and earlier[1] == digest:
        return IngestResult("duplicate", reason="already ingested")
    notes = []
    if earlier is not None:
        notes.append(f"This mail reuses the Message-ID <{key}> of an earlier, different mail (inbound #{earlier[0]}); "
                     "it is stored as a mail of its own.")
    if mail.invalid_message_id:
        notes.append(f"Its Message-ID {mail.invalid_message_id!r} is not a valid id and was ignored.")
    identity = identify_sender_cached(session, mail.from_address, now)
    inbound = InboundMail(mailbox=mailbox, message_id=key[:1000], message_id_hash=id_hash(key), content_hash=digest,
                          source=source, received_at=now, status=InboundStatus.THREADED,
                          from_address=mail.from_address[:254], subject=mail.subject[:1000], raw=raw, size=len(raw),
                          reason=" ".join(notes) or None,
                          auto_reply_suppressed=auto_reply_suppression(settings, signer, mail))
    # No savepoint here: pysqlite would commit on its release. A concurrent twin delivery fails the
    # unique key at flush or commit; the caller rolls back and the retry sees a duplicate.
    session.add(inbound)
    session.flush()

    ctx = MailContext(inbound, inbound.auto_reply_suppressed)
    session.info[CONTEXT_KEY] = ctx
    # What the outbound mail handlers (after the commit) need to know about this mail.
    session.info[events.CAUSE_KEY] = {"inbound_mail_id": inbound.id, "message_id": inbound.message_id,
                                      "suppress": inbound.auto_reply_suppressed}
    try:
        actor = _actor(mail, identity.contact)
        thread = find_ticket(session, signer, mail, identity.contact, mailbox)
        if thread.ticket is None and is_bounce(mail):
            returned = find_returned_ticket(session, signer, mail)
            if returned is not None:
                return _returned_mail(session, inbound, mail, returned, actor, now)
        auth_failure = authentication_failure(mail)
        refusal = state_change_refusal(auth_failure)
        ticket, new = thread.ticket, False
        if ticket is not None and not ticket.is_open and ctx.suppress is None and refusal is None:
            ticket, new = _closed_ticket(session, settings, ticket, mail, identity, actor, now)
        if ticket is None:
            ticket, new = _new_ticket(session, settings, mail, identity, actor, thread.refused, now), True
        if new:
            inbound.status = InboundStatus.NEW_TICKET
            event_id = ticket.events[0].id
        else:
            event = tickets.add_note(session, ticket, _event_body(mail), actor=actor, now=now, public=True,
                                     kind="email")
            event_id = event.id
            if ctx.suppress is None:
                if refusal is None:
                    _customer_replied(session, ticket, actor, now)
                elif not ticket.is_open or ticket.status == Status.WAITING_CUSTOMER:
                    tickets.add_note(session, ticket, f"The mail from {mail.from_address} was recorded but changes "
                                     f"nothing on the ticket: {refusal}.", actor=tickets.SYSTEM, now=now)
                decide_approvals_by_mail(session, signer, ticket, mail, identity.contact, actor, now, auth_failure)
        if new and auth_failure:
            tickets.add_note(session, ticket, f"Warning: {auth_failure}; the sender {mail.from_address} may be forged.",
                             actor=tickets.SYSTEM, now=now)
        for note in notes:
            tickets.add_note(session, ticket, note, actor=tickets.SYSTEM, now=now)
        inbound.event_id = event_id
        _store_attachments(session, inbound, mail, ticket, event_id)
        return _done(session, inbound, ticket)
    finally:
        session.info.pop(CONTEXT_KEY, None)
        session.info.pop(events.CAUSE_KEY, None)


def _returned_mail(session: Session, inbound: InboundMail, mail: ParsedMail, ticket: Ticket, actor: tickets.Actor,
                   now: datetime) -> IngestResult:
    """A bounce of our own mail joins the ticket it is about as an internal note: staff see that the
    customer did not get the mail; nothing else changes and nobody is answered."""
    status = "\n".join(mail.delivery_status) or "(no delivery status given)"
    body = f"Delivery failure report for a mail about this ticket:\n{status}\n\n{_event_body(mail)}"
    event = tickets.add_note(session, ticket, body[: tickets.MAX_TEXT], actor=actor, now=now, public=False,
                             kind="email")
    inbound.event_id = event.id
    inbound.auto_reply_suppressed = inbound.auto_reply_suppressed or "bounce"
    _store_attachments(session, inbound, mail, ticket, event.id)
    return _done(session, inbound, ticket)


def _done(session: Session, inbound: InboundMail, ticket: Ticket) -> IngestResult:
    inbound.ticket_id = ticket.id
    # The auto-reply and the other reactions to this mail commit with it, in savepoints of its
    # transaction (a failing one is left for after the commit): no second transaction per mail.
    if session.info.pop(_REACTIONS_KEY, True):
        unit_of_work.dispatch_in_transaction(session)
    return IngestResult(inbound.status, inbound.id, ticket.number)


# Built once: this look-up runs for every mail, and building and keying a select each time cost as
# much as running it. Core columns on the session's connection (after its autoflush): no ORM rows.
_inbound = InboundMail.__table__
_EARLIER = select(_inbound.c.id, _inbound.c.content_hash).where(
    _inbound.c.mailbox == bindparam("mailbox"), _inbound.c.message_id_hash == bindparam("hash"))


def _earlier(session: Session, mailbox: str, key: str, digest: str) -> tuple[int, str] | None:
    """(id, content hash) of an earlier mail with this Message-ID in this mailbox, the same content first."""
    session.flush()  # what session.execute's autoflush did: this batch's earlier mails are seen
    rows = session.connection().execute(_EARLIER, {"mailbox": mailbox, "hash": id_hash(key)}).all()
    same = [tuple(r) for r in rows if r[1] == digest]
    return (same or [tuple(r) for r in rows] or [None])[0]


_HEADER = re.compile(r"^(from|subject):[ \t]*(.*)$", re.IGNORECASE | re.MULTILINE)


def quarantine(session: Session, raw: bytes, reason: str, *, key: str | None = None, mailbox: str, source: str,
               now: datetime) -> IngestResult:
    """Keep a message we cannot (or could not) turn into a ticket, with the reason and its raw bytes;
    a redelivery of the same bytes is a duplicate. Staff re-feed it after a fix."""
    key = key or sniff_message_id(raw) or raw_key(raw)
    digest = content_hash(raw)
    earlier = _earlier(session, mailbox, key, digest)
    if earlier is not None and earlier[1] == digest:
        return IngestResult("duplicate", reason="already ingested")
    head = strip_nul(raw[:8192].decode("utf-8", "replace"))
    found = {name.lower(): value.strip() for name, value in reversed(_HEADER.findall(head))}
    row = InboundMail(mailbox=mailbox, message_id=strip_nul(key)[:1000], message_id_hash=id_hash(key),
                      content_hash=digest, source=source, received_at=now, status=InboundStatus.QUARANTINED,
                      reason=strip_nul(reason)[:2000], from_address=found.get("from", "")[:254] or None,
                      subject=found.get("subject", "")[:1000] or None, raw=raw, size=len(raw),
                      auto_reply_suppressed="quarantined")
    session.add(row)
    session.flush()
    return IngestResult("quarantined", row.id, None, reason)


def _actor(mail: ParsedMail, contact: Contact | None) -> tickets.Actor:
    if contact is not None:
        return tickets.Actor.contact(contact)
    return tickets.Actor("contact", None, (mail.from_name or mail.from_address)[:200])


def _event_body(mail: ParsedMail) -> str:
    who = f"{mail.from_name} <{mail.from_address}>" if mail.from_name else mail.from_address
    body = f"From: {who}\nSubject: {mail.subject}\n\n{mail.text}"
    return body[: tickets.MAX_TEXT]


def _new_ticket(session: Session, settings: Settings, mail: ParsedMail, identity, actor: tickets.Actor,  # noqa: ANN001
                refused: int | None, now: datetime) -> Ticket:
    subject = strip_prefixes(mail.subject) or "(no subject)"
    description = mail.text[: tickets.MAX_TEXT - 500]
    first = _event_body(mail)
    if refused is not None:
        # A stranger quoting someone else's number gets their own ticket (no message injection).
        first = f"The subject quotes #{refused}, but the sender is not on that ticket: opened as a new one.\n\n" \
            + first
    contact = identity.contact
    ticket = tickets.create_ticket(session, tickets.NewTicket(
        subject=subject[: tickets.MAX_SUBJECT], channel=Channel.EMAIL, category=guess_category(mail.subject, mail.text),
        description=description, company_id=identity.company.id if identity.company else None,
        reporter_contact_id=contact.id if contact else None,
        reporter_name=None if contact else (mail.from_name or mail.from_address)[:200],
        # An address we cannot mail to exactly (no auto-reply then) still opens the ticket.
        reporter_email=mail.from_address if is_email_address(mail.from_address) else None,
        extra_event_body=first[: tickets.MAX_TEXT],
    ), actor=actor, now=now, number_start=settings.ticket_number_start)
    inbound = session.info[CONTEXT_KEY].inbound
    if identity.company is None:
        inbound.triage = "triage"
        tickets.add_note(session, ticket, f"Unknown sender {mail.from_address}: triage (identify the customer "
                         "or pass to Sales).", actor=tickets.SYSTEM, now=now)
    elif identity.contract is None:
        inbound.triage = "sales"
        tickets.add_note(session, ticket, f"{identity.company.name} has no valid contract: pass to Sales.",
                         actor=tickets.SYSTEM, now=now)
    return ticket


def _closed_ticket(session: Session, settings: Settings, ticket: Ticket, mail: ParsedMail, identity,  # noqa: ANN001
                   actor: tickets.Actor, now: datetime) -> tuple[Ticket, bool]:
    """A reply to a resolved ticket reopens it; to a closed one, per CALLCENTER_MAIL_CLOSED_REPLY.

    Returns the ticket the mail goes to and whether it is a new one."""
    if ticket.status == Status.RESOLVED or settings.mail_closed_reply == "reopen":
        tickets.reopen(session, ticket, actor=actor, now=now, note="The customer replied by e-mail.")
        return ticket, False
    follow = _new_ticket(session, settings, mail, identity, actor, None, now)
    tickets.link_tickets(session, follow, ticket, kind="follow_up", actor=tickets.SYSTEM, now=now)
    return follow, True


def _customer_replied(session: Session, ticket: Ticket, actor: tickets.Actor, now: datetime) -> None:
    """The customer answered: the SLA pause (waiting for the customer) ends."""
    if ticket.status != Status.WAITING_CUSTOMER:
        return
    # Without a first response yet, going to in_progress would count the reply as our response.
    target = Status.IN_PROGRESS if ticket.responded_at is not None else Status.ACKNOWLEDGED
    try:
        tickets.change_status(session, ticket, target, actor=actor, now=now, note="The customer replied by e-mail.")
    except tickets.TicketError:
        pass  # e.g. a pending approval: the ticket keeps its status, the mail is recorded anyway


def _store_attachments(session: Session, inbound: InboundMail, mail: ParsedMail, ticket: Ticket,
                       event_id: int) -> None:
    for att in mail.attachments:
        session.add(MailAttachment(inbound=inbound, ticket_id=ticket.id, event_id=event_id,
                                   filename=att.filename, content_type=att.content_type, size=len(att.data),
                                   sha256=att.sha256, data=None if att.rejected else att.data,
                                   rejected=att.rejected))
