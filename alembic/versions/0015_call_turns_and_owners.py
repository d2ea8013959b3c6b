"""Calls: idempotent turns (sequence, key and answer of the last turn), the AGI process serving each
call and when we last heard of it or asked the provider about it; service processes' heartbeats.

Revision ID: 0015
Revises: 0045
Create Date: 2026-11-30 03:30:00
"""
from alembic import op
import sqlalchemy as sa

from callcenter.models.base import UTCDateTime


revision = '0015'
down_revision = "0045"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('turn_seq', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('turn_key', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('turn_replay', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('owner', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('last_seen_at', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('status_check_at', UTCDateTime(), nullable=True))
    op.create_index('ix_calls_open', 'calls', ['arrived_at'], unique=False,
                    postgresql_where=sa.text('ended_at IS NULL'), sqlite_where=sa.text('ended_at IS NULL'))
    op.create_table(
        'service_processes',
        sa.Column('id', sa.String(length=100), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('started_at', UTCDateTime(), nullable=False),
        sa.Column('beat_at', UTCDateTime(), nullable=False),
        sa.Column('stopped_at', UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_service_processes')),
    )
    op.create_index(op.f('ix_service_processes_beat_at'), 'service_processes', ['beat_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_service_processes_beat_at'), table_name='service_processes')
    op.drop_table('service_processes')
    op.drop_index('ix_calls_open', table_name='calls')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        for column in ('status_check_at', 'last_seen_at', 'owner', 'turn_replay', 'turn_key', 'turn_seq'):
            batch_op.drop_column(column)
