"""The quarterly report's medians read only the response times in a few narrow buckets: on PostgreSQL an
index on the bucket (the expression `sla_report.BUCKET_SQL`) carrying what the report filters on finds
them without reading the quarter a second time. SQLite computes medians from the values themselves.

Revision ID: 0100
Revises: 0075
Create Date: 2026-11-30 10:50:00
"""
from alembic import op


revision = '0100'
down_revision = '0075'
branch_labels = None
depends_on = None

# As callcenter/sla_report.py writes it, so that the planner matches the report's expression.
BUCKET_SQL = ("CASE WHEN tickets.response_minutes > 0 THEN floor(ln(tickets.response_minutes + 1) * 64)::integer + 1 "
              "ELSE 0 END")


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(f"CREATE INDEX ix_tickets_response_bucket ON tickets (company_id, ({BUCKET_SQL})) "
               "INCLUDE (category, created_at, response_minutes, response_minutes_basis, sla_response_minutes, "
               "sla_started_at, responded_at) WHERE response_minutes IS NOT NULL")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_tickets_response_bucket', table_name='tickets')
