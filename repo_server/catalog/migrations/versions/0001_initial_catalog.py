"""Initial catalog: resources, blobs, derivatives, vocabularies, people, events, change log.

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 16:20:22.954559
"""
from alembic import op
import sqlalchemy as sa
import repo_server.catalog.base


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('blobs',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('mime', sa.String(length=127), nullable=False),
    sa.Column('original_filename', sa.String(length=255), nullable=False),
    sa.Column('created_at', repo_server.catalog.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_blobs'))
    )
    op.create_table('change_counter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_change_counter'))
    )
    # The single counter row every change-log writer increments (see catalog/events.py).
    op.execute("INSERT INTO change_counter (id, value) VALUES (1, 0)")
    op.create_table('import_records',
    sa.Column('source_key', sa.String(length=64), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('mtime_ns', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('resource_id', sa.String(length=32), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('at', repo_server.catalog.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('source_key', name=op.f('pk_import_records'))
    )
    op.create_table('organisations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('path', sa.String(length=400), nullable=False),
    sa.Column('created_at', repo_server.catalog.base.UTCDateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('city', 'county', 'school', 'other')", name=op.f('ck_organisations_kind')),
    sa.ForeignKeyConstraint(['parent_id'], ['organisations.id'], name=op.f('fk_organisations_parent_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisations'))
    )
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_organisations_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_organisations_path'), ['path'], unique=False)

    op.create_table('vocab_terms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scheme', sa.String(length=20), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vocab_terms')),
    sa.UniqueConstraint('scheme', 'code', name='uq_vocab_terms_scheme_code'),
    sa.UniqueConstraint('scheme', 'key', name='uq_vocab_terms_scheme_key')
    )
    op.create_table('derivatives',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_sha256', sa.String(length=64), nullable=False),
    sa.Column('profile', sa.String(length=40), nullable=False),
    sa.Column('blob_sha256', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('created_at', repo_server.catalog.base.UTCDateTime(), nullable=False),
    sa.Column('updated_at', repo_server.catalog.base.UTCDateTime(), nullable=False),
    sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name=op.f('ck_derivatives_status')),
    sa.ForeignKeyConstraint(['blob_sha256'], ['blobs.sha256'], name=op.f('fk_derivatives_blob_sha256_blobs')),
    sa.ForeignKeyConstraint(['source_sha256'], ['blobs.sha256'], name=op.f('fk_derivatives_source_sha256_blobs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_derivatives')),
    sa.UniqueConstraint('source_sha256', 'profile', name='uq_derivatives_source_profile')
    )
    with op.batch_alter_table('derivatives', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_derivatives_blob_sha256'), ['blob_sha256'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('session_version', sa.Integer(), nullable=False),
    sa.Column('created_at', repo_server.catalog.base.UTCDateTime(), nullable=False),
    sa.Column('last_login_at', repo_server.catalog.base.UTCDateTime(), nullable=True),
    sa.CheckConstraint("role IN ('admin', 'editor', 'teacher')", name=op.f('ck_users_role')),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_users_org_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_org_id'), ['org_id'], unique=False)

    op.create_table('vocab_aliases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('term_id', sa.Integer(), nullable=False),
    sa.Column('alias', sa.String(length=100), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['term_id'], ['vocab_terms.id'], name=op.f('fk_vocab_aliases_term_id_vocab_terms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vocab_aliases')),
    sa.UniqueConstraint('term_id', 'key', name='uq_vocab_aliases_term_key')
    )
    with op.batch_alter_table('vocab_aliases', schema=None) as batch_op:
        batch_op.create_index('ix_vocab_aliases_key', ['key'], unique=False)

    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('created_at', repo_server.catalog.base.UTCDateTime(), nullable=False),
    sa.Column('last_used_at', repo_server.catalog.base.UTCDateTime(), nullable=True),
    sa.Column('revoked_at', repo_server.catalog.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('changes',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('resource_id', sa.String(length=32), nullable=False),
    sa.Column('op', sa.String(length=12), nullable=False),
    sa.Column('at', repo_server.catalog.base.UTCDateTime(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_changes_actor_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_changes'))
    )
    with op.batch_alter_table('changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_changes_resource_id'), ['resource_id'], unique=False)

    op.create_table('resources',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('creator', sa.String(length=200), nullable=False),
    sa.Column('publisher', sa.String(length=200), nullable=False),
    sa.Column('language', sa.String(length=35), nullable=False),
    sa.Column('license', sa.String(length=200), nullable=False),
    sa.Column('date', sa.String(length=10), nullable=False),
    sa.Column('stage_id', sa.Integer(), nullable=True),
    sa.Column('grade_id', sa.Integer(), nullable=True),
    sa.Column('subject_id', sa.Integer(), nullable=True),
    sa.Column('edition_id', sa.Integer(), nullable=True),
    sa.Column('volume_id', sa.Integer(), nullable=True),
    sa.Column('type_id', sa.Integer(), nullable=True),
    sa.Column('chapter', sa.String(length=200), nullable=False),
    sa.Column('lesson', sa.String(length=200), nullable=False),
    sa.Column('visibility', sa.String(length=12), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=True),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('blob_sha256', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('format', sa.String(length=20), nullable=False),
    sa.Column('created_at', repo_server.catalog.base.UTCDateTime(), nullable=False),
    sa.Column('updated_at', repo_server.catalog.base.UTCDateTime(), nullable=False),
    sa.Column('deleted_at', repo_server.catalog.base.UTCDateTime(), nullable=True),
    sa.CheckConstraint("status IN ('draft', 'published')", name=op.f('ck_resources_status')),
    sa.CheckConstraint("visibility IN ('public', 'organisation', 'private')", name=op.f('ck_resources_visibility')),
    sa.ForeignKeyConstraint(['blob_sha256'], ['blobs.sha256'], name=op.f('fk_resources_blob_sha256_blobs')),
    sa.ForeignKeyConstraint(['edition_id'], ['vocab_terms.id'], name=op.f('fk_resources_edition_id_vocab_terms')),
    sa.ForeignKeyConstraint(['grade_id'], ['vocab_terms.id'], name=op.f('fk_resources_grade_id_vocab_terms')),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_resources_org_id_organisations')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_resources_owner_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['stage_id'], ['vocab_terms.id'], name=op.f('fk_resources_stage_id_vocab_terms')),
    sa.ForeignKeyConstraint(['subject_id'], ['vocab_terms.id'], name=op.f('fk_resources_subject_id_vocab_terms')),
    sa.ForeignKeyConstraint(['type_id'], ['vocab_terms.id'], name=op.f('fk_resources_type_id_vocab_terms')),
    sa.ForeignKeyConstraint(['volume_id'], ['vocab_terms.id'], name=op.f('fk_resources_volume_id_vocab_terms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resources'))
    )
    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resources_blob_sha256'), ['blob_sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_resources_edition_id'), ['edition_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_resources_grade_id'), ['grade_id'], unique=False)
        batch_op.create_index('ix_resources_listing', ['deleted_at', 'status', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_resources_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_resources_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_resources_stage_id'), ['stage_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_resources_subject_id'), ['subject_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_resources_type_id'), ['type_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_resources_volume_id'), ['volume_id'], unique=False)

    op.create_table('download_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('resource_id', sa.String(length=32), nullable=False),
    sa.Column('profile', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('org_id', sa.Integer(), nullable=True),
    sa.Column('at', repo_server.catalog.base.UTCDateTime(), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=False),
    sa.Column('user_agent', sa.String(length=300), nullable=False),
    sa.Column('is_bot', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_download_events_org_id_organisations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resource_id'], ['resources.id'], name=op.f('fk_download_events_resource_id_resources'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_download_events_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_download_events'))
    )
    with op.batch_alter_table('download_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_download_events_at'), ['at'], unique=False)
        batch_op.create_index('ix_download_events_resource_at', ['resource_id', 'at'], unique=False)

    op.create_table('resource_tags',
    sa.Column('resource_id', sa.String(length=32), nullable=False),
    sa.Column('tag', sa.String(length=60), nullable=False),
    sa.ForeignKeyConstraint(['resource_id'], ['resources.id'], name=op.f('fk_resource_tags_resource_id_resources'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('resource_id', 'tag', name=op.f('pk_resource_tags'))
    )
    with op.batch_alter_table('resource_tags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resource_tags_tag'), ['tag'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('resource_tags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resource_tags_tag'))

    op.drop_table('resource_tags')
    with op.batch_alter_table('download_events', schema=None) as batch_op:
        batch_op.drop_index('ix_download_events_resource_at')
        batch_op.drop_index(batch_op.f('ix_download_events_at'))

    op.drop_table('download_events')
    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resources_volume_id'))
        batch_op.drop_index(batch_op.f('ix_resources_type_id'))
        batch_op.drop_index(batch_op.f('ix_resources_subject_id'))
        batch_op.drop_index(batch_op.f('ix_resources_stage_id'))
        batch_op.drop_index(batch_op.f('ix_resources_owner_id'))
        batch_op.drop_index(batch_op.f('ix_resources_org_id'))
        batch_op.drop_index('ix_resources_listing')
        batch_op.drop_index(batch_op.f('ix_resources_grade_id'))
        batch_op.drop_index(batch_op.f('ix_resources_edition_id'))
        batch_op.drop_index(batch_op.f('ix_resources_blob_sha256'))

    op.drop_table('resources')
    with op.batch_alter_table('changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_changes_resource_id'))

    op.drop_table('changes')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
    with op.batch_alter_table('vocab_aliases', schema=None) as batch_op:
        batch_op.drop_index('ix_vocab_aliases_key')

    op.drop_table('vocab_aliases')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_org_id'))

    op.drop_table('users')
    with op.batch_alter_table('derivatives', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_derivatives_blob_sha256'))

    op.drop_table('derivatives')
    op.drop_table('vocab_terms')
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_organisations_path'))
        batch_op.drop_index(batch_op.f('ix_organisations_parent_id'))

    op.drop_table('organisations')
    op.drop_table('import_records')
    op.drop_table('change_counter')
    op.drop_table('blobs')
