"""Mail trust: an installation secret made once, approval request tokens, duplicates by content.

Revision ID: 0025
Revises: 0010
Create Date: 2026-12-01 09:00:00
"""
import hashlib
import re
import secrets
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa
import callcenter.models.base


revision = '0025'
down_revision = '0010'
branch_labels = None
depends_on = None


def _content_hash(raw: bytes) -> str:
    # A frozen copy of callcenter.mail.parse.content_hash at this revision (migrations do not import
    # application code that may change later).
    data = raw.replace(b"\r\n", b"\n")
    head, sep, body = data.partition(b"\n\n")
    if not sep:
        head, body = data, b""
    fields = {}
    for line in re.sub(rb"\n[ \t]+", b" ", head).split(b"\n"):
        name, colon, value = line.partition(b":")
        key = name.strip().lower()
        if colon and key in (b"from", b"subject", b"date") and key not in fields:
            fields[key] = b" ".join(value.split())
    digest = hashlib.sha256()
    for key in (b"from", b"subject", b"date"):
        digest.update(fields.get(key, b"") + b"\0")
    digest.update(b"\n".join(line.rstrip() for line in body.split(b"\n")).strip())
    return digest.hexdigest()


def upgrade() -> None:
    secrets_table = op.create_table('installation_secrets',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('value', sa.String(length=128), nullable=False),
    sa.Column('created_at', callcenter.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_installation_secrets'))
    )
    # Generated here, once, at random: never derived from configuration (a database URL is no secret).
    op.bulk_insert(secrets_table, [{"name": "mail", "value": secrets.token_hex(32),
                                    "created_at": datetime.now(timezone.utc)}])

    op.create_table('mail_approval_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('approval_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=254), nullable=False),
    sa.Column('created_at', callcenter.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['approval_id'], ['approvals.id'], name=op.f('fk_mail_approval_tokens_approval_id_approvals'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_approval_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_mail_approval_tokens_token_hash'))
    )
    with op.batch_alter_table('mail_approval_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_approval_tokens_approval_id'), ['approval_id'], unique=False)

    with op.batch_alter_table('mail_inbound', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content_hash', sa.String(length=64), nullable=True))
    conn = op.get_bind()
    inbound = sa.table('mail_inbound', sa.column('id', sa.Integer), sa.column('raw', sa.LargeBinary),
                       sa.column('content_hash', sa.String))
    last = 0
    while True:
        rows = conn.execute(sa.select(inbound.c.id, inbound.c.raw).where(inbound.c.id > last)
                            .order_by(inbound.c.id).limit(500)).all()
        if not rows:
            break
        for row_id, raw in rows:
            conn.execute(inbound.update().where(inbound.c.id == row_id)
                         .values(content_hash=_content_hash(bytes(raw or b""))))
        last = rows[-1][0]
    with op.batch_alter_table('mail_inbound', schema=None) as batch_op:
        batch_op.alter_column('content_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_constraint('uq_mail_inbound_mailbox_mid', type_='unique')
        batch_op.create_unique_constraint('uq_mail_inbound_mailbox_mid', ['mailbox', 'message_id_hash', 'content_hash'])


def downgrade() -> None:
    with op.batch_alter_table('mail_inbound', schema=None) as batch_op:
        batch_op.drop_constraint('uq_mail_inbound_mailbox_mid', type_='unique')
        batch_op.create_unique_constraint('uq_mail_inbound_mailbox_mid', ['mailbox', 'message_id_hash'])
        batch_op.drop_column('content_hash')
    with op.batch_alter_table('mail_approval_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_approval_tokens_approval_id'))
    op.drop_table('mail_approval_tokens')
    op.drop_table('installation_secrets')
