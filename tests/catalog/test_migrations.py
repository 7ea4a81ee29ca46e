"""The migrations are the schema: they must produce exactly what the models declare."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select

from repo_server.catalog.migrate import current_revision, head_revision, upgrade
from repo_server.catalog.models import Base, ChangeCounter


def test_migrations_match_the_models(services) -> None:
    with services.catalog.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_upgrade_is_idempotent_and_at_head(services) -> None:
    upgrade(services.catalog.engine)
    upgrade(services.catalog.engine)
    assert current_revision(services.catalog.engine) == head_revision()
    tables = set(inspect(services.catalog.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_change_counter_row_is_seeded(services) -> None:
    with services.catalog.read() as session:
        assert session.scalars(select(ChangeCounter)).one().value == 0
