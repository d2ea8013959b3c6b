"""Full-text search over tickets: subjects, descriptions, notes and replies, mails, caller numbers.

Each ticket has one document in `ticket_search` (PostgreSQL: GIN index on its tsvector; SQLite: FTS5
through triggers; migration 0055). It is kept current here, at commit: every flush notes the tickets
whose searchable text may have changed (a new or edited ticket, a new event, a call or mail linked to
it), and just before the commit their documents are rebuilt in the same transaction, so the index
never lags the data. `rebuild_all` (CLI `callcenter search-reindex`) rebuilds every document.

A ticket created in this transaction is the common case (each new mail, call or web ticket): every
row that names it was written by this transaction, so its document is built from the objects the
flushes saw, without reading anything back. A write to those tables that the ORM does not see
(`session.execute(insert(...))`/`update(...)`) sends the transaction's new tickets the query way.
A savepoint that rolls back forgets nothing of the work before it; the documents are built once, at
the outermost commit (a batch of mails in savepoints rebuilds them all in one pass).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from sqlalchemy import event, inspect, literal_column, select, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql import Select

from .models import Call, InboundMail, Ticket, TicketEvent, TicketSearch, utcnow

PENDING = "search_pending_ticket_ids"
# {ticket id: [the Ticket, the events, mails and calls flushed naming it]} for tickets new in this
# transaction; FRESH_OFF: something wrote those tables behind the ORM's back (read them instead).
FRESH = "search_new_tickets"
FRESH_OFF = "search_new_tickets_unsure"
TICKET_TEXT_FIELDS = ("subject", "description", "reporter_name", "reporter_email", "reporter_phone")
MAX_DOCUMENT = 500_000  # PostgreSQL's tsvector holds 1 MB; an enormous thread keeps its first half-million
MAX_TERMS = 8
_SOURCE_TABLES = frozenset(t.__table__.name for t in (Ticket, TicketEvent, InboundMail, Call))
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
        parts[t.id] = _ticket_texts(t)
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
    return {ticket_id: _joined(texts) for ticket_id, texts in parts.items()}


def _joined(texts: list[str]) -> str:
    # The same text often arrives twice (the description is also the first mail's body).
    return fold("\n".join(dict.fromkeys(p.strip() for p in texts if p and p.strip())))[:MAX_DOCUMENT]


def _ticket_texts(t: Ticket) -> list[str]:
    return [t.subject or "", t.description or "", t.reporter_name or ""] + _variants(t.reporter_email) \
        + _variants(t.reporter_phone)


def _fresh_document(ticket: Ticket, seen: list[object]) -> str:
    """`documents()` of a ticket created in this transaction, from the objects its flushes wrote: the
    same texts in the same order (events by id, then mails, then calls)."""
    alive = [o for o in dict.fromkeys(seen) if inspect(o).persistent and o.ticket_id == ticket.id]
    texts = _ticket_texts(ticket)
    texts += [e.body for e in sorted((o for o in alive if isinstance(o, TicketEvent)), key=lambda e: e.id)
              if e.body is not None and e.kind != "created"]
    for mail in sorted((o for o in alive if isinstance(o, InboundMail)), key=lambda m: m.id):
        texts += [mail.subject or ""] + _variants(mail.from_address)
    for call in sorted((o for o in alive if isinstance(o, Call)), key=lambda c: c.id):
        texts += _variants(call.caller_number)
    return _joined(texts)


def fold(text_: str) -> str:
    """Case and accents folded, the same way for documents and queries, whatever the database's locale:
    "Nyomtató" and "nyomtato" match, and so do "ΕΚΤΥΠΩΤΉΣ" and "εκτυπωτης" (final sigma included)."""
    decomposed = unicodedata.normalize("NFKD", text_.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def document(session: Session, ticket: Ticket) -> str:
    """The text search looks in for one ticket."""
    return documents(session, [ticket])[ticket.id]


def refresh(session: Session, ticket_ids: set[int], now: datetime | None = None,
            fresh: dict[int, list] | None = None) -> None:
    """Rebuild the documents of these tickets in the session's transaction; `fresh`: the tickets created
    in it, with what its flushes wrote about them (their documents need no query)."""
    stamp = now or utcnow()
    for ticket_id, (ticket, seen) in (fresh or {}).items():
        if ticket_id not in ticket_ids or not inspect(ticket).persistent:
            continue  # not touched since, or undone by a savepoint's rollback
        # No other transaction can have indexed a ticket it cannot see yet; an earlier refresh of this
        # one would have left its row in the session.
        if session.identity_map.get(identity_key(TicketSearch, ticket_id)) is None:
            ticket_ids = ticket_ids - {ticket_id}
            session.add(TicketSearch(ticket_id=ticket_id, document=_fresh_document(ticket, seen), updated_at=stamp))
    if not ticket_ids:
        return
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


_TEXT_OF = {TicketEvent: ("body",), InboundMail: ("subject", "from_address"), Call: ("caller_number",)}


def _touched(obj: object) -> set[int]:
    """The tickets whose searchable text this flushed object may change: its ticket, and the one it
    left when it moved to another."""
    state = inspect(obj)
    if isinstance(obj, Ticket):
        if state.pending or any(state.attrs[name].history.has_changes() for name in TICKET_TEXT_FIELDS):
            return {obj.id}
        return set()
    fields = _TEXT_OF.get(type(obj))
    if fields is None:
        return set()
    if state.pending:
        return {obj.ticket_id} if obj.ticket_id is not None else set()
    moved = state.attrs.ticket_id.history
    out = {t for t in (*moved.added, *moved.deleted) if t is not None} if moved.has_changes() else set()
    if obj.ticket_id is not None and any(state.attrs[name].history.has_changes() for name in fields):
        out.add(obj.ticket_id)
    return out


@event.listens_for(Session, "after_flush")
def _note_changes(session: Session, flush_context) -> None:  # noqa: ANN001
    # The lists still show what was flushed, with ids assigned and attribute history intact.
    flushed = list(session.new) + list(session.dirty)
    fresh = session.info.setdefault(FRESH, {})
    for obj in flushed:
        if isinstance(obj, Ticket) and inspect(obj).pending:
            fresh[obj.id] = [obj, []]
    for obj in flushed:
        touched = _touched(obj)
        if touched:
            session.info.setdefault(PENDING, set()).update(touched)
            if type(obj) in _TEXT_OF and obj.ticket_id in fresh:
                fresh[obj.ticket_id][1].append(obj)


@event.listens_for(Session, "do_orm_execute")
def _note_statements(state) -> None:  # noqa: ANN001
    if (state.is_insert or state.is_update or state.is_delete) and any(
            mapper.local_table.name in _SOURCE_TABLES for mapper in state.all_mappers):
        state.session.info[FRESH_OFF] = True


@event.listens_for(Session, "before_commit")
def _rebuild_before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint's release: the outermost commit rebuilds, once
    if not session.info.get(PENDING) and not (session.new or session.dirty):
        return
    session.flush()
    pending = session.info.pop(PENDING, None)
    fresh = session.info.pop(FRESH, None)
    if session.info.pop(FRESH_OFF, False):
        fresh = None
    if pending:
        refresh(session, pending, fresh=fresh)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint's: the work before it stays, and so do its tickets
    for key in (PENDING, FRESH, FRESH_OFF):
        session.info.pop(key, None)


@event.listens_for(Session, "after_commit")
def _done(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info.pop(FRESH, None)
        session.info.pop(FRESH_OFF, None)


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
