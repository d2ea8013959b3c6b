"""Outbox claims belong to one claimant (token, who, when); worker heartbeats tell a dead claimant
from a slow one.

Revision ID: 0020
Revises: 0026
Create Date: 2026-12-01 09:00:00
"""
from alembic import op
import sqlalchemy as sa

from callcenter.models.base import UTCDateTime


revision = '0020'
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claim_token', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('claimed_at', UTCDateTime(), nullable=True))
    op.create_table(
        'worker_heartbeats',
        sa.Column('worker_id', sa.String(length=100), nullable=False),
        sa.Column('started_at', UTCDateTime(), nullable=False),
        sa.Column('beat_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('worker_id'),
    )
    op.create_index('ix_worker_heartbeats_beat_at', 'worker_heartbeats', ['beat_at'])


def downgrade() -> None:
    op.drop_index('ix_worker_heartbeats_beat_at', table_name='worker_heartbeats')
    op.drop_table('worker_heartbeats')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('claimed_at')
        batch_op.drop_column('claimed_by')
        batch_op.drop_column('claim_token')
