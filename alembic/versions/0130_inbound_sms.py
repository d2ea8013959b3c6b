"""SMS replies to pages by the provider's message id, so that a webhook delivered twice acts once
(callcenter.models.InboundSms).

Revision ID: 0130
Revises: 0101
Create Date: 2026-11-30 13:45:00
"""
from alembic import op
import sqlalchemy as sa

from callcenter.models.base import UTCDateTime


revision = '0130'
down_revision = '0101'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'inbound_sms',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('provider_ref', sa.String(length=64), nullable=False),
        sa.Column('received_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('answer', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_sms')),
        sa.UniqueConstraint('provider_ref', name=op.f('uq_inbound_sms_provider_ref')),
    )


def downgrade() -> None:
    op.drop_table('inbound_sms')
