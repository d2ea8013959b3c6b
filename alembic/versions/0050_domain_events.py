"""Durable domain events: after-commit handlers run from these rows, retried by the worker.

Revision ID: 0050
Revises: 0020, 0055 (also the merge point of the two heads main had: 0020 and 0055)
Create Date: 2026-11-30 07:00:00
"""
from alembic import op
import sqlalchemy as sa
import callcenter.models.base


revision = '0050'
down_revision = ("0020", "0055")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('domain_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_type', sa.String(length=100), nullable=False),
    sa.Column('handler', sa.String(length=200), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('cause', sa.JSON(), nullable=True),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', callcenter.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', callcenter.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('done_at', callcenter.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_domain_events'))
    )
    with op.batch_alter_table('domain_events', schema=None) as batch_op:
        batch_op.create_index('ix_domain_events_due', ['state', 'next_attempt_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('domain_events', schema=None) as batch_op:
        batch_op.drop_index('ix_domain_events_due')
    op.drop_table('domain_events')
