"""Full-text search over tickets: subjects, descriptions, notes and replies, mails, caller numbers.

Each ticket has one document in `ticket_search` (PostgreSQL: GIN index on its tsvector; SQLite: FTS5
through triggers; migration 0055). It is kept current here, at commit: every flush notes the tickets
whose searchable text may have changed (a new or edited ticket, a new event, a call or mail linked to
it), and just before the commit their documents are rebuilt in the same transaction, so the index
never lags the data. `rebuild_all` (CLI `callcenter search-reindex`) rebuilds every document.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import event, inspect, literal_column, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from .models import Call, InboundMail, Ticket, TicketEvent, TicketSearch, utcnow

PENDING = "search_pending_ticket_ids"
TICKET_TEXT_FIELDS = ("subject", "description", "reporter_name", "reporter_email", "reporter_phone")
MAX_DOCUMENT = 500_000  # PostgreSQL's tsvector holds 1 MB; an enormous thread keeps its first half-million
MAX_TERMS = 8
NUMBER_LIKE = re.compile(r"^[\s+()./-]*\d[\d\s()./-]{3,}$")


def _variants(value: str | None) -> list[str]:
    """A number also as bare digits, an address also as words, so a search for either finds it."""
    if not value:
        return []
    out = [value]
    digits = re.sub(r"\D", "", value)
    if len(digits) >= 4 and digits != value:
        out.append(digits)
    if "@" in value:
        out.append(re.sub(r"[@._+-]", " ", value))
    return out


def document(session: Session, ticket: Ticket) -> str:
    """The text search looks in for one ticket."""
    parts: list[str] = [ticket.subject or "", ticket.description or "", ticket.reporter_name or ""]
    parts += _variants(ticket.reporter_email) + _variants(ticket.reporter_phone)
    parts += session.scalars(select(TicketEvent.body).where(
        TicketEvent.ticket_id == ticket.id, TicketEvent.body.is_not(None), TicketEvent.kind != "created")
        .order_by(TicketEvent.id)).all()
    for subject, sender in session.execute(select(InboundMail.subject, InboundMail.from_address)
                                           .where(InboundMail.ticket_id == ticket.id)):
        parts += [subject or ""] + _variants(sender)
    for number in session.scalars(select(Call.caller_number).where(Call.ticket_id == ticket.id)):
        parts += _variants(number)
    # The same text often arrives twice (the description is also the first mail's body).
    unique = dict.fromkeys(p.strip() for p in parts if p and p.strip())
    return "\n".join(unique)[:MAX_DOCUMENT]


def refresh(session: Session, ticket_ids: set[int], now: datetime | None = None) -> None:
    """Rebuild the documents of these tickets in the session's transaction."""
    stamp = now or utcnow()
    for ticket_id in sorted(ticket_ids):  # one order for the row locks of concurrent commits
        # Lock first, read after: of two concurrent commits on one ticket the second rebuilds with the
        # first one's text (READ COMMITTED sees it once the lock is ours).
        row = session.get(TicketSearch, ticket_id, with_for_update=True, populate_existing=True)
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            continue
        text_ = document(session, ticket)
        if row is None:
            session.add(TicketSearch(ticket_id=ticket_id, document=text_, updated_at=stamp))
        elif row.document != text_:
            row.document = text_
            row.updated_at = stamp


def rebuild_all(session: Session, batch: int = 500) -> int:
    """Rebuild every ticket's document (after a bulk import, or to repair the index); returns the count."""
    ids = session.scalars(select(Ticket.id).order_by(Ticket.id)).all()
    for start in range(0, len(ids), batch):
        refresh(session, set(ids[start:start + batch]))
        session.flush()
        session.expunge_all()
    return len(ids)


def _touched(obj: object) -> int | None:
    """The ticket whose searchable text this flushed object may change, if any."""
    state = inspect(obj)
    if isinstance(obj, Ticket):
        if state.pending or any(state.attrs[name].history.has_changes() for name in TICKET_TEXT_FIELDS):
            return obj.id
        return None
    if isinstance(obj, TicketEvent):
        return obj.ticket_id if state.pending and obj.body else None
    if isinstance(obj, (Call, InboundMail)):
        if obj.ticket_id is None:
            return None
        if isinstance(obj, Call) and not state.pending and not (
                state.attrs.ticket_id.history.has_changes() or state.attrs.caller_number.history.has_changes()):
            return None
        if isinstance(obj, InboundMail) and not (state.pending or state.attrs.ticket_id.history.has_changes()):
            return None
        return obj.ticket_id
    return None


@event.listens_for(Session, "after_flush")
def _note_changes(session: Session, flush_context) -> None:  # noqa: ANN001
    # The lists still show what was flushed, with ids assigned and attribute history intact.
    for obj in list(session.new) + list(session.dirty):
        ticket_id = _touched(obj)
        if ticket_id is not None:
            session.info.setdefault(PENDING, set()).add(ticket_id)


@event.listens_for(Session, "before_commit")
def _rebuild_before_commit(session: Session) -> None:
    if not session.info.get(PENDING) and not (session.new or session.dirty):
        return
    session.flush()
    pending = session.info.pop(PENDING, None)
    if pending:
        refresh(session, pending)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(PENDING, None)


# --- queries ---------------------------------------------------------------------------------


def terms(query: str) -> list[str]:
    """The words of a query; a phone number typed with spaces or dashes is one term (its digits)."""
    if NUMBER_LIKE.match(query):
        return [re.sub(r"\D", "", query)]
    return [t for t in re.findall(r"\w+", query.lower()) if t][:MAX_TERMS]


def matching_ids(dialect: str, query: str) -> Select | None:
    """A SELECT of the ids of tickets whose document has every term (as a word prefix); None: no terms."""
    words = [w[:60] for w in terms(query)]
    if not words:
        return None
    if dialect == "postgresql":
        # The same expression as the GIN index, so the planner uses it.
        tsquery = " & ".join(f"{w}:*" for w in words)
        return select(TicketSearch.ticket_id).where(
            text("to_tsvector('simple', ticket_search.document) @@ to_tsquery('simple', :tsq)").bindparams(tsq=tsquery))
    fts = " ".join('"' + w.replace('"', '') + '"*' for w in words)
    return (select(literal_column("rowid")).select_from(text("ticket_search_fts"))
            .where(text("ticket_search_fts MATCH :fts").bindparams(fts=fts)))


__all__ = ["document", "matching_ids", "rebuild_all", "refresh", "terms"]
