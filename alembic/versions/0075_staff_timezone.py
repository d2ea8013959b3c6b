"""Staff time zone: each staff member reads times in their own zone (an engineer on call in Athens).

NULL means the help desk's zone (Europe/Budapest, web.i18n.DESK_ZONE).

Revision ID: 0075
Revises: 0050
Create Date: 2026-11-30 07:25:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0075'
down_revision = '0050'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('staff_users') as batch:
        batch.add_column(sa.Column('timezone', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('staff_users') as batch:
        batch.drop_column('timezone')
