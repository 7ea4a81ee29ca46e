"""Favourites: teachers keep resources for later (one row per user and resource); indexes
for the pages: most downloaded, a lesson's resources, the catalog tree.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 00:02:01.288132
"""
from alembic import op
import sqlalchemy as sa
import repo_server.catalog.base


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('favourites',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('resource_id', sa.String(length=32), nullable=False),
    sa.Column('created_at', repo_server.catalog.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['resource_id'], ['resources.id'], name=op.f('fk_favourites_resource_id_resources'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_favourites_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'resource_id', name=op.f('pk_favourites'))
    )
    with op.batch_alter_table('favourites', schema=None) as batch_op:
        batch_op.create_index('ix_favourites_user_created', ['user_id', 'created_at'], unique=False)
    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.create_index('ix_resources_popular', ['download_count', 'created_at'], unique=False)
        batch_op.create_index('ix_resources_lesson', ['lesson', 'subject_id', 'grade_id'], unique=False)
        batch_op.create_index('ix_resources_classification', ['stage_id', 'subject_id', 'edition_id',
                                                              'grade_id', 'volume_id', 'created_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.drop_index('ix_resources_classification')
        batch_op.drop_index('ix_resources_lesson')
        batch_op.drop_index('ix_resources_popular')
    with op.batch_alter_table('favourites', schema=None) as batch_op:
        batch_op.drop_index('ix_favourites_user_created')

    op.drop_table('favourites')
