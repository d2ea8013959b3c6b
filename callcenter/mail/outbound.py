"""Outbound mail: the automatic reply to every new ticket, a mail at every later phase, approval
requests and decisions. After-commit domain-event handlers (wired in callcenter/handlers.py) that
only write outbox rows (the worker sends): a failure here never undoes the ticket change.

Loop protection (reference Part B.4): no automatic reply to automatic mail (the ingest service
decides and records it with the events it publishes, session.info["event_cause"]), a per-sender rate
limit in the database, and the headers that stop other robots answering ours.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import events, outbox, tickets
from ..config import Settings, load_settings
from ..customer_portal import CUSTOMER_APPROVAL_KINDS, visible_changes
from ..models import (
    Approval,
    AutoReplyCounter,
    Contact,
    InboundMail,
    InboundStatus,
    MailApprovalToken,
    OutboundMail,
    Ticket,
)
from ..text import InvalidAddress, email_address, header_value
from . import templates
from .parse import valid_message_id
from .signing import new_token, signer_for, token_hash
from .threading import id_hash, strip_prefixes

RATE_WINDOW = timedelta(minutes=180)
RATE_MAX = 10
# The phases a customer is mailed about; what each mail may say is customer_portal's rule (assignees,
# levels, escalation reasons and internal notes never leave the house).
PHASE_KINDS = {"status", "reopened", "note", "updated"}

_fallback_settings: Settings | None = None


def settings_for(session: Session) -> Settings:
    """The process settings travel in session.info; a bare session falls back to the environment."""
    found = session.info.get("settings")
    if found is not None:
        return found
    global _fallback_settings
    if _fallback_settings is None:
        _fallback_settings = load_settings()
    return _fallback_settings


def _mail_cause(session: Session) -> dict | None:
    """The mail being ingested when the event was published (recorded with the event, see ingest):
    {"inbound_mail_id", "message_id", "suppress"}; None when no customer mail caused it."""
    cause = session.info.get(events.CAUSE_KEY)
    return cause if cause and cause.get("inbound_mail_id") else None


def _lang(session: Session, settings: Settings, ticket: Ticket, contact: Contact | None = None) -> str:
    contact = contact or ticket.reporter
    return templates.language(contact.language if contact else None, settings.default_language)


def _name(ticket: Ticket, lang: str) -> str:
    return ticket.reporter_name or ticket.reporter_email or {"hu": "Ügyfelünk", "el": "πελάτη"}.get(lang, "customer")


def rate_limited(session: Session, address: str, subject: str, now: datetime) -> str | None:
    """Count an automatic reply to `address`; the reason when it must not be sent (FreeScout's rule)."""
    address = address.lower()[:254]
    subject = strip_prefixes(subject)[:1000]
    # The session's identity map holds clean rows weakly: a counter that is not kept here is read
    # again for every mail of a batch to the same sender.
    held = session.info.setdefault("auto_reply_counters", {})
    counter = session.get(AutoReplyCounter, address)
    if counter is None:
        try:
            with session.begin_nested():
                counter = AutoReplyCounter(address=address, window_started_at=now, count=0)
                session.add(counter)
        except IntegrityError:
            counter = session.get(AutoReplyCounter, address)
    held[address] = counter
    if now - counter.window_started_at >= RATE_WINDOW:
        counter.window_started_at, counter.count, counter.last_subject = now, 0, None
    if counter.count >= RATE_MAX:
        return f"rate limit: {RATE_MAX} automatic replies to {address} in {RATE_WINDOW}"
    if counter.count >= 1 and counter.last_subject == subject:
        return "rate limit: repeated subject"
    counter.count += 1
    counter.last_subject = subject
    return None


def queue_mail(session: Session, settings: Settings, ticket: Ticket, *, kind: str, key: str, to: str,
               subject: str, body: str, now: datetime, auto_reply: bool = False,
               in_reply_to: str | None = None, token: str | None = None) -> OutboundMail | None:
    """One outbox row with our threading headers, and its Message-ID remembered for replies.

    Every header is built from stored text made safe (a subject or an inbound Message-ID with a line
    break must not fail every later mail about the ticket), and the recipient must be exactly one
    address; otherwise nothing is queued and the ticket says why."""
    try:
        to = email_address(to)
    except InvalidAddress as exc:
        tickets.add_note(session, ticket, f"No {kind.replace('_', ' ')} mail was sent: {exc}.",
                         actor=tickets.SYSTEM, now=now)
        return None
    signer = signer_for(session, settings)
    message_id = signer.message_id(ticket.number, token)
    last_in = in_reply_to or session.scalar(select(InboundMail.message_id).where(
        InboundMail.ticket_id == ticket.id, InboundMail.status != InboundStatus.QUARANTINED,
        ~InboundMail.message_id.startswith("raw-sha256:")).order_by(InboundMail.id.desc()).limit(1))
    previous = list(session.scalars(select(OutboundMail.message_id).where(OutboundMail.ticket_id == ticket.id)
                                    .order_by(OutboundMail.id.desc()).limit(7)))
    refs = [signer.ticket_reference(ticket.number)] + [m for m in reversed(previous) if valid_message_id(m.strip("<>"))]
    headers = {
        "Auto-Submitted": "auto-replied" if auto_reply else "auto-generated",
        "X-Auto-Response-Suppress": "All",
        "X-Loop": header_value(settings.mail_from),
    }
    if last_in and valid_message_id(last_in):  # rows stored before ids were validated may hold anything
        headers["In-Reply-To"] = f"<{last_in}>"
        refs.append(f"<{last_in}>")
    headers["References"] = " ".join(refs[-10:])
    body = f"{body.rstrip()}\n\n{signer.body_marker(ticket.number, token)}\n"
    msg = outbox.enqueue(session, key=key, channel="email", destination=to, now=now, source_kind="mail",
                         source_id=ticket.id, payload={"subject": header_value(subject), "text": body,
                                                       "headers": headers, "message_id": message_id})
    if msg.payload.get("message_id") != message_id:
        return None  # already queued under this key
    if msg.id is None:  # queued earlier in this transaction and not flushed yet: its id is needed below
        session.flush()
    row = OutboundMail(ticket_id=ticket.id, message_id=message_id, message_id_hash=id_hash(message_id), kind=kind,
                       to_address=to[:254], outbox_id=msg.id, created_at=now)
    session.add(row)
    return row


def _due(ticket: Ticket, lang: str) -> str:
    if ticket.response_due_at is None:
        return templates.text(lang, "no_due")
    zone = ticket.contract.timezone if ticket.contract else "Europe/Budapest"
    return f"{ticket.response_due_at.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M} ({zone})"


def _replying_to(cause: dict | None) -> str | None:
    # The mail being ingested has no ticket yet while the ticket is created.
    message_id = (cause or {}).get("message_id")
    if not message_id or message_id.startswith("raw-sha256:"):
        return None
    return message_id


def wants_ticket_created(session: Session, event: events.TicketCreated) -> bool:
    """A ticket with an address to answer, from no mail whose auto-replies are suppressed."""
    ticket = session.get(Ticket, event.ticket_id)
    cause = _mail_cause(session)
    return bool(ticket is not None and ticket.reporter_email and (cause is None or cause.get("suppress") is None))


def on_ticket_created(session: Session, event: events.TicketCreated) -> None:
    ticket = session.get(Ticket, event.ticket_id)
    if ticket is None or not ticket.reporter_email:
        return
    settings = settings_for(session)
    cause = _mail_cause(session)
    if cause is not None and cause.get("suppress") is not None:
        return
    reason = rate_limited(session, ticket.reporter_email, ticket.subject, event.now)
    if reason is not None:
        inbound = session.get(InboundMail, cause["inbound_mail_id"]) if cause is not None else None
        if inbound is not None and inbound.auto_reply_suppressed is None:
            inbound.auto_reply_suppressed = reason
        return
    lang = _lang(session, settings, ticket)
    values = dict(number=ticket.number, subject=ticket.subject, name=_name(ticket, lang),
                  category=templates.label(lang, ticket.category), priority=templates.label(lang, ticket.priority),
                  due=_due(ticket, lang))
    queue_mail(session, settings, ticket, kind="auto_reply", key=f"mail:auto-reply:{ticket.id}",
               to=ticket.reporter_email, subject=templates.text(lang, "auto_subject", **values),
               body=templates.text(lang, "auto_body", **values), now=event.now, auto_reply=True,
               in_reply_to=_replying_to(cause))


def wants_ticket_changed(session: Session, event: events.TicketChanged) -> bool:
    """Only a public phase change that shows the customer something, not caused by their own mail
    (they know what they wrote), is worth a mail."""
    if event.kind not in PHASE_KINDS or not event.public or _mail_cause(session) is not None:
        return False
    return bool(visible_changes(event.changes) or (event.note or "").strip())


def on_ticket_changed(session: Session, event: events.TicketChanged) -> None:
    if not wants_ticket_changed(session, event):
        return
    visible = visible_changes(event.changes)
    ticket = session.get(Ticket, event.ticket_id)
    if ticket is None or not ticket.reporter_email:
        return
    settings = settings_for(session)
    lang = _lang(session, settings, ticket)
    kind = event.kind
    new_status = (event.changes.get("status") or [None, None])[1]
    if kind == "status" and new_status in {"resolved", "closed"}:
        kind = new_status
    what = templates.WHAT[lang][kind]
    lines = []
    for name, (old, new) in visible.items():
        lines.append(f"{templates.label(lang, name)}: {templates.label(lang, old)} -> {templates.label(lang, new)}")
    changes = "".join(f"{templates.text(lang, 'changed')}: {line}\n" for line in lines)
    note = f"\n{event.note}\n" if event.note else ""
    values = dict(number=ticket.number, subject=ticket.subject, name=_name(ticket, lang), what=what,
                  changes=changes, note=note)
    queue_mail(session, settings, ticket, kind="phase", key=f"mail:phase:{event.event_id}",
               to=ticket.reporter_email, subject=templates.text(lang, "phase_subject", **values),
               body=templates.text(lang, "phase_body", **values), now=event.now or ticket.updated_at)


def on_approval_requested(session: Session, event: events.ApprovalRequested) -> None:
    approval = session.get(Approval, event.approval_id)
    if approval is None or approval.kind == "spare_part":
        return  # spare parts are approved by our own managers, not by mail
    contact = approval.approver_contact
    if contact is None or not contact.email:
        return
    ticket = approval.ticket
    settings = settings_for(session)
    lang = _lang(session, settings, ticket, contact)
    values = dict(number=ticket.number, subject=ticket.subject, name=contact.name,
                  reporter=ticket.reporter_name or ticket.reporter_email or "?",
                  company=ticket.company.name if ticket.company else "", summary=approval.summary or ticket.subject)
    # The request's own token: a decision by mail counts only when the reply brings it back from
    # this address (proof that its author received this request).
    token = new_token()
    row = queue_mail(session, settings, ticket, kind="approval_request", key=f"mail:approval-request:{approval.id}",
                     to=contact.email, subject=templates.text(lang, "approval_subject", **values),
                     body=templates.text(lang, "approval_body", **values), now=event.now, token=token)
    if row is not None:
        session.add(MailApprovalToken(approval_id=approval.id, token_hash=token_hash(token), address=row.to_address,
                                      created_at=event.now))


def on_approval_decided(session: Session, event: events.ApprovalDecided) -> None:
    approval = session.get(Approval, event.approval_id)
    if approval is None or approval.kind not in CUSTOMER_APPROVAL_KINDS:
        return  # a spare part is our managers' decision: the portal does not show it, no mail tells of it
    ticket = approval.ticket
    if not ticket.reporter_email:
        return
    settings = settings_for(session)
    lang = _lang(session, settings, ticket)
    values = dict(number=ticket.number, subject=ticket.subject, name=_name(ticket, lang),
                  decision=templates.text(lang, "approved" if event.approved else "denied"),
                  decided_by=approval.decided_by_name or "?")
    queue_mail(session, settings, ticket, kind="approval_decided", key=f"mail:approval-decided:{approval.id}",
               to=ticket.reporter_email, subject=templates.text(lang, "decided_subject", **values),
               body=templates.text(lang, "decided_body", **values), now=event.now)

