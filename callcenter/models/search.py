"""What full-text search looks in: one document per ticket (`callcenter.search` keeps it current)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime


class TicketSearch(Base):
    """A ticket's searchable text: subject, description, every event's text (notes, replies, mails),
    the subjects and senders of its mails, and the reporter's and callers' numbers.

    Indexed outside the models, by migration 0055: on PostgreSQL a GIN index on
    to_tsvector('simple', document); on SQLite the FTS5 table `ticket_search_fts` (external content,
    this table), filled by triggers on this table."""

    __tablename__ = "ticket_search"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    document: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


# The index objects migrations create beside the models: autogenerate and the models-vs-schema test
# leave them alone. 0055: the search index (SQLite's FTS5 table comes with shadow tables named after
# it); 0100 and 0101: the quarterly report's indexes on the response-time bucket and on the tickets
# without a figure (PostgreSQL).
UNMODELLED_PREFIXES = ("ticket_search_fts", "ix_ticket_search_tsv", "ix_tickets_response_bucket",
                       "ix_tickets_response_rest")


def include_name(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic's `include_name` hook: everything except the search index's own objects."""
    return not (name or "").startswith(UNMODELLED_PREFIXES)
