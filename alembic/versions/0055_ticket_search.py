"""Console: full-text search over tickets (subjects, bodies, mails, caller numbers).

One document per ticket in ticket_search, kept current by callcenter.search at each commit that
touches the ticket. PostgreSQL: a GIN index on to_tsvector('simple', document). SQLite: an FTS5
table with ticket_search as its external content, kept in step by triggers.
The backfill here is plain SQL; `callcenter search-reindex` rebuilds every document exactly.

Revision ID: 0055
Revises: 0045
Create Date: 2026-11-30 06:50:00
"""
from alembic import op
import sqlalchemy as sa
import callcenter.models.base


revision = '0055'
down_revision = '0045'
branch_labels = None
depends_on = None

PG_BACKFILL = """
INSERT INTO ticket_search (ticket_id, document, updated_at)
SELECT t.id, concat_ws(' ', t.subject, t.description, t.reporter_name, t.reporter_email, t.reporter_phone,
  regexp_replace(coalesce(t.reporter_phone, ''), '[^0-9]', '', 'g'),
  (SELECT string_agg(e.body, ' ') FROM ticket_events e
    WHERE e.ticket_id = t.id AND e.body IS NOT NULL AND e.kind <> 'created'),
  (SELECT string_agg(concat_ws(' ', m.subject, m.from_address), ' ') FROM mail_inbound m WHERE m.ticket_id = t.id),
  (SELECT string_agg(concat_ws(' ', c.caller_number, regexp_replace(coalesce(c.caller_number, ''), '[^0-9]', '', 'g')),
                     ' ') FROM calls c WHERE c.ticket_id = t.id)),
  now()
FROM tickets t
"""

SQLITE_BACKFILL = """
INSERT INTO ticket_search (ticket_id, document, updated_at)
SELECT t.id, t.subject || ' ' || ifnull(t.description, '') || ' ' || ifnull(t.reporter_name, '') || ' '
  || ifnull(t.reporter_email, '') || ' ' || ifnull(t.reporter_phone, '') || ' '
  || ifnull((SELECT group_concat(e.body, ' ') FROM ticket_events e
             WHERE e.ticket_id = t.id AND e.body IS NOT NULL AND e.kind <> 'created'), '') || ' '
  || ifnull((SELECT group_concat(ifnull(m.subject, '') || ' ' || ifnull(m.from_address, ''), ' ')
             FROM mail_inbound m WHERE m.ticket_id = t.id), '') || ' '
  || ifnull((SELECT group_concat(c.caller_number, ' ') FROM calls c WHERE c.ticket_id = t.id), ''),
  strftime('%Y-%m-%d %H:%M:%f', 'now')
FROM tickets t
"""

SQLITE_FTS = [
    "CREATE VIRTUAL TABLE ticket_search_fts USING fts5(document, content='ticket_search', content_rowid='ticket_id')",
    """CREATE TRIGGER ticket_search_ai AFTER INSERT ON ticket_search BEGIN
         INSERT INTO ticket_search_fts(rowid, document) VALUES (new.ticket_id, new.document); END""",
    """CREATE TRIGGER ticket_search_ad AFTER DELETE ON ticket_search BEGIN
         INSERT INTO ticket_search_fts(ticket_search_fts, rowid, document)
         VALUES ('delete', old.ticket_id, old.document); END""",
    """CREATE TRIGGER ticket_search_au AFTER UPDATE ON ticket_search BEGIN
         INSERT INTO ticket_search_fts(ticket_search_fts, rowid, document)
         VALUES ('delete', old.ticket_id, old.document);
         INSERT INTO ticket_search_fts(rowid, document) VALUES (new.ticket_id, new.document); END""",
]


def upgrade() -> None:
    op.create_table('ticket_search',
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('document', sa.Text(), nullable=False),
    sa.Column('updated_at', callcenter.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ticket_id')
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_ticket_search_tsv ON ticket_search USING gin (to_tsvector('simple', document))")
        op.execute(PG_BACKFILL)
    else:
        for statement in SQLITE_FTS:
            op.execute(statement)
        op.execute(SQLITE_BACKFILL)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_ticket_search_tsv")
    else:
        for trigger in ("ticket_search_ai", "ticket_search_ad", "ticket_search_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS ticket_search_fts")
    op.drop_table('ticket_search')
