"""Mail spool: what the MTA pipe hands over, for a worker to ingest.

Revision ID: 0026
Revises: 0040
Create Date: 2026-12-01 12:00:00
"""
from alembic import op
import sqlalchemy as sa
import callcenter.models.base


revision = '0026'
down_revision = '0040'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('mail_spool',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mailbox', sa.String(length=254), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('received_at', callcenter.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', callcenter.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_spool'))
    )
    with op.batch_alter_table('mail_spool', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_spool_next_attempt_at'), ['next_attempt_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('mail_spool', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_spool_next_attempt_at'))
    op.drop_table('mail_spool')
