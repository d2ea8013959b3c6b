"""Console: files attached to a ticket's messages (the customer portal's reply box, staff replies).

Revision ID: 0045
Revises: 0030
Create Date: 2026-11-22 04:00:00
"""
from alembic import op
import sqlalchemy as sa
import callcenter.models.base


revision = '0045'
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ticket_attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('uploaded_at', callcenter.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('uploader_kind', sa.String(length=10), nullable=False),
    sa.Column('uploader_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['ticket_events.id'], name=op.f('fk_ticket_attachments_event_id_ticket_events'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_attachments_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_attachments'))
    )
    with op.batch_alter_table('ticket_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_attachments_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ticket_attachments_ticket_id'), ['ticket_id'], unique=False)
    # Assignments and escalations are internal from now on (their reasons were mailed to customers).
    op.execute("UPDATE ticket_events SET public = false WHERE kind IN ('assigned', 'escalated', 'de-escalated')")


def downgrade() -> None:
    with op.batch_alter_table('ticket_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_attachments_ticket_id'))
        batch_op.drop_index(batch_op.f('ix_ticket_attachments_event_id'))
    op.drop_table('ticket_attachments')
