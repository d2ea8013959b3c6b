"""Full-text search over tickets: subjects, descriptions, notes and replies, mails, caller numbers.

Each ticket has one document in `ticket_search` (PostgreSQL: GIN index on its tsvector; SQLite: FTS5
through triggers; migration 0055). It is kept current here, at commit: every flush notes the tickets
whose searchable text may have changed (a new or edited ticket, a new event, a call or mail linked to
it), and just before the commit their documents are rebuilt in the same transaction, so the index
never lags the data. `rebuild_all` (CLI `callcenter search-reindex`) rebuilds every document.
"""

from __future__ import annotations

import re
import unicodedata
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


def documents(session: Session, tickets: list[Ticket]) -> dict[int, str]:
    """The text search looks in, for each of these tickets (four queries whatever their number)."""
    parts: dict[int, list[str]] = {}
    for t in tickets:
        parts[t.id] = [t.subject or "", t.description or "", t.reporter_name or ""]
        parts[t.id] += _variants(t.reporter_email) + _variants(t.reporter_phone)
    ids = list(parts)
    if not ids:
        return {}
    for ticket_id, body in session.execute(select(TicketEvent.ticket_id, TicketEvent.body).where(
            TicketEvent.ticket_id.in_(ids), TicketEvent.body.is_not(None), TicketEvent.kind != "created")
            .order_by(TicketEvent.ticket_id, TicketEvent.id)):
        parts[ticket_id].append(body)
    for ticket_id, subject, sender in session.execute(
            select(InboundMail.ticket_id, InboundMail.subject, InboundMail.from_address)
            .where(InboundMail.ticket_id.in_(ids))):
        parts[ticket_id] += [subject or ""] + _variants(sender)
    for ticket_id, number in session.execute(select(Call.ticket_id, Call.caller_number)
                                             .where(Call.ticket_id.in_(ids))):
        parts[ticket_id] += _variants(number)
    # The same text often arrives twice (the description is also the first mail's body).
    return {ticket_id: fold("\n".join(dict.fromkeys(p.strip() for p in texts if p and p.strip())))[:MAX_DOCUMENT]
            for ticket_id, texts in parts.items()}


def fold(text_: str) -> str:
    """Case and accents folded, the same way for documents and queries, whatever the database's locale:
    "Nyomtató" and "nyomtato" match, and so do "ΕΚΤΥΠΩΤΉΣ" and "εκτυπωτης" (final sigma included)."""
    decomposed = unicodedata.normalize("NFKD", text_.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def document(session: Session, ticket: Ticket) -> str:
    """The text search looks in for one ticket."""
    return documents(session, [ticket])[ticket.id]


def refresh(session: Session, ticket_ids: set[int], now: datetime | None = None) -> None:
    """Rebuild the documents of these tickets in the session's transaction."""
    stamp = now or utcnow()
    ordered = sorted(ticket_ids)  # one order for the row locks of concurrent commits
    # Lock first, read after: of two concurrent commits on one ticket the second rebuilds with the
    # first one's text (READ COMMITTED sees it once the lock is ours).
    rows = {r.ticket_id: r for r in session.scalars(
        select(TicketSearch).where(TicketSearch.ticket_id.in_(ordered)).order_by(TicketSearch.ticket_id)
        .with_for_update().execution_options(populate_existing=True))}
    tickets = session.scalars(select(Ticket).where(Ticket.id.in_(ordered))).all()
    for ticket_id, text_ in documents(session, list(tickets)).items():
        row = rows.get(ticket_id)
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
    return [t for t in re.findall(r"\w+", fold(query)) if t][:MAX_TERMS]


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
