"""Directory version: a counter bumped by every change to companies, contracts, contacts and assets.

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-22 02:50:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        'directory_version',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_directory_version')),
    )
    op.bulk_insert(table, [{"id": 1, "version": 0}])


def downgrade() -> None:
    op.drop_table('directory_version')
