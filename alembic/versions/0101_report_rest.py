"""The quarterly report reads the responded tickets that have a figure through migration 0100's index; the
others (unanswered, no figure yet, no target) through this partial index, which carries every column the
report reads of them (PostgreSQL only, like 0100).

Revision ID: 0101
Revises: 0100
Create Date: 2026-11-30 11:10:00
"""
from alembic import op


revision = '0101'
down_revision = '0100'
branch_labels = None
depends_on = None

# As callcenter/sla_report.py writes the condition, so that the planner proves the index applies.
WITHOUT_FIGURE = ("response_minutes IS NULL OR responded_at IS NULL OR sla_response_minutes IS NULL "
                  "OR sla_started_at IS NULL")


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute("CREATE INDEX ix_tickets_response_rest ON tickets (company_id, created_at) INCLUDE (category, "
               "contract_id, sla_response_minutes, sla_started_at, responded_at, response_due_at, response_breached, "
               f"response_minutes, response_minutes_basis) WHERE {WITHOUT_FIGURE}")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_tickets_response_rest', table_name='tickets')
