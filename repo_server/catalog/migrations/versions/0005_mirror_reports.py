"""Mirror reports: the latest sync status each downstream mirror reported to this server
(one row per mirror name, owned by the account that first reported it).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 00:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import repo_server.catalog.base


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('mirror_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('upstream', sa.String(length=500), nullable=False),
    sa.Column('serial', sa.Integer(), nullable=True),
    sa.Column('upstream_serial', sa.Integer(), nullable=True),
    sa.Column('result', sa.String(length=12), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('last_success_at', repo_server.catalog.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_attempt_at', repo_server.catalog.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('bytes', sa.BigInteger(), nullable=False),
    sa.Column('duration_s', sa.Float(), nullable=False),
    sa.Column('chain', sa.Text(), nullable=False),
    sa.Column('reported_at', repo_server.catalog.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('remote_addr', sa.String(length=64), nullable=False),
    sa.CheckConstraint("result IN ('ok', 'up_to_date', 'retry', 'config', 'failed')", name=op.f('ck_mirror_reports_result')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_mirror_reports_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mirror_reports')),
    sa.UniqueConstraint('name', name=op.f('uq_mirror_reports_name'))
    )
    with op.batch_alter_table('mirror_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mirror_reports_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('mirror_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mirror_reports_user_id'))

    op.drop_table('mirror_reports')
