"""Console sessions carry a per-person version; failed logins are counted in one row per login name.

Usernames are stored lower-cased from now on (logins are case-insensitive).

Revision ID: 0030
Revises: 0025
Create Date: 2026-12-01 09:00:00
"""
from alembic import op
import sqlalchemy as sa

from callcenter.models.base import UTCDateTime


revision = '0030'
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))
    op.create_table(
        'login_throttles',
        sa.Column('login', sa.String(length=254), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('window_started_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('login', name=op.f('pk_login_throttles')),
    )
    # A name created with capitals could never log in (the form lower-cases); keep them findable.
    op.execute("UPDATE staff_users SET username = lower(username) WHERE username <> lower(username)")


def downgrade() -> None:
    op.drop_table('login_throttles')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_column('session_version')
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.drop_column('session_version')
