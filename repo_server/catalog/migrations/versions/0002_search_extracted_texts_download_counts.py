"""Search: texts extracted from blobs (shipped to mirrors) and per-resource download counts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 17:20:57.314338
"""
from alembic import op
import sqlalchemy as sa
import repo_server.catalog.base


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('blob_texts',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('chars', sa.Integer(), nullable=False),
    sa.Column('truncated', sa.Boolean(), nullable=False),
    sa.Column('extractor', sa.String(length=40), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('extracted_at', repo_server.catalog.base.UTCDateTime(), nullable=False),
    sa.CheckConstraint("status IN ('done', 'empty', 'failed', 'unsupported')", name=op.f('ck_blob_texts_status')),
    sa.ForeignKeyConstraint(['sha256'], ['blobs.sha256'], name=op.f('fk_blob_texts_sha256_blobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_blob_texts'))
    )
    with op.batch_alter_table('resources', schema=None) as batch_op:
        # Existing resources start at 0 (an upgrade of a live catalog has rows already).
        batch_op.add_column(sa.Column('download_count', sa.Integer(), nullable=False,
                                      server_default='0'))



def downgrade() -> None:
    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.drop_column('download_count')

    op.drop_table('blob_texts')
