"""Each responded ticket keeps its response time in working minutes and what it was counted against
(the contract, clock and calendar), so reports aggregate a column instead of walking calendars.

Revision ID: 0040
Revises: 0015
Create Date: 2026-11-30 03:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0040'
down_revision = "0015"
branch_labels = None
depends_on = None

REPORT_COLUMNS = ['category', 'contract_id', 'sla_response_minutes', 'sla_started_at', 'responded_at',
                  'response_due_at', 'response_breached', 'response_minutes', 'response_minutes_basis']


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('response_minutes', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('response_minutes_basis', sa.BigInteger(), nullable=True))
    # The worker fills the existing tickets' figures in batches (sla_jobs.fill_response_minutes); this finds them.
    op.create_index('ix_tickets_response_minutes_todo', 'tickets', ['id'], unique=False,
                    postgresql_where=sa.text('responded_at IS NOT NULL AND response_minutes IS NULL'),
                    sqlite_where=sa.text('responded_at IS NOT NULL AND response_minutes IS NULL'))
    if op.get_bind().dialect.name == 'postgresql':
        # The quarterly report's index carries the columns it aggregates: one index-only scan per quarter.
        op.drop_index('ix_tickets_company_created', table_name='tickets')
        op.create_index('ix_tickets_company_created', 'tickets', ['company_id', 'created_at'], unique=False,
                        postgresql_include=list(REPORT_COLUMNS))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_tickets_company_created', table_name='tickets')
        op.create_index('ix_tickets_company_created', 'tickets', ['company_id', 'created_at'], unique=False)
    op.drop_index('ix_tickets_response_minutes_todo', table_name='tickets')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_column('response_minutes_basis')
        batch_op.drop_column('response_minutes')
