"""Acknowledgement timeout: per contract, how often it fired per alert, and the round of each page.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22 03:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('contracts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ack_timeout_minutes', sa.Integer(), nullable=True))
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ack_timeouts', sa.Integer(), server_default='0', nullable=False))
    # A person may be paged again at the same step once an acknowledgement timed out: a new round.
    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('round', sa.Integer(), server_default='0', nullable=False))
        batch_op.drop_constraint('uq_pages_alert_id', type_='unique')
        batch_op.create_unique_constraint('uq_pages_alert_id', ['alert_id', 'round', 'loop', 'step', 'staff_id'])


def downgrade() -> None:
    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.drop_constraint('uq_pages_alert_id', type_='unique')
        batch_op.create_unique_constraint('uq_pages_alert_id', ['alert_id', 'loop', 'step', 'staff_id'])
        batch_op.drop_column('round')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_column('ack_timeouts')
    with op.batch_alter_table('contracts', schema=None) as batch_op:
        batch_op.drop_column('ack_timeout_minutes')
