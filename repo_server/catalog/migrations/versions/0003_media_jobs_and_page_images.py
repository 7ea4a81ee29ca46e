"""Media: jobs (an outbox the queue is fed from), derivative metadata, page images, and a
`cancelled` state for derivatives.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 20:48:25.225949
"""
from alembic import op
import sqlalchemy as sa
import repo_server.catalog.base


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('media_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_sha256', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('source_suffix', sa.String(length=12), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('progress', sa.Float(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('worker', sa.String(length=100), nullable=False),
    sa.Column('enqueued_at', repo_server.catalog.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', repo_server.catalog.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('started_at', repo_server.catalog.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', repo_server.catalog.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', repo_server.catalog.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', repo_server.catalog.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('video', 'audio', 'pdf', 'office', 'image', 'epub')", name=op.f('ck_media_jobs_kind')),
    sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed', 'cancelled')", name=op.f('ck_media_jobs_status')),
    sa.ForeignKeyConstraint(['source_sha256'], ['blobs.sha256'], name=op.f('fk_media_jobs_source_sha256_blobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_media_jobs')),
    sa.UniqueConstraint('source_sha256', name=op.f('uq_media_jobs_source_sha256'))
    )
    with op.batch_alter_table('media_jobs', schema=None) as batch_op:
        batch_op.create_index('ix_media_jobs_status_updated', ['status', 'updated_at'], unique=False)

    op.create_table('derivative_pages',
    sa.Column('derivative_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('blob_sha256', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['blob_sha256'], ['blobs.sha256'], name=op.f('fk_derivative_pages_blob_sha256_blobs')),
    sa.ForeignKeyConstraint(['derivative_id'], ['derivatives.id'], name=op.f('fk_derivative_pages_derivative_id_derivatives'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('derivative_id', 'number', name=op.f('pk_derivative_pages'))
    )
    with op.batch_alter_table('derivative_pages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_derivative_pages_blob_sha256'), ['blob_sha256'], unique=False)

    with op.batch_alter_table('derivatives', schema=None) as batch_op:
        # Existing rows get an empty object (an upgrade of a live catalog has rows already).
        batch_op.add_column(sa.Column('meta', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.drop_constraint(op.f('ck_derivatives_status'), type_='check')
        batch_op.create_check_constraint(
            'status', "status IN ('queued', 'running', 'done', 'failed', 'cancelled')")



def downgrade() -> None:
    with op.batch_alter_table('derivatives', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_derivatives_status'), type_='check')
        batch_op.create_check_constraint('status', "status IN ('queued', 'running', 'done', 'failed')")
        batch_op.drop_column('meta')

    with op.batch_alter_table('derivative_pages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_derivative_pages_blob_sha256'))

    op.drop_table('derivative_pages')
    with op.batch_alter_table('media_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_media_jobs_status_updated')

    op.drop_table('media_jobs')
