"""The migrations are the schema: they must produce exactly what the models declare."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from repo_server.catalog.changes import record_change
from repo_server.catalog.migrate import current_revision, head_revision, upgrade
from repo_server.catalog.models import (ApiToken, Base, ChangeCounter, Derivative, DownloadEvent, Resource,
                                        User)
from tests.conftest import DATABASES, PG_URL


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


# -- upgrading a catalog that holds data ----------------------------------------------------------
@pytest.fixture(params=DATABASES)
def empty_catalog(request, tmp_path) -> Iterator[str]:
    """The URL of an empty database (no tables at all): a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.sqlite3'}"
        return
    name = f"repo_upgrade_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - a loud failure, never a skip
        pytest.fail(f"PostgreSQL is needed at {PG_URL}: {exc}", pytrace=False)
    url = make_url(PG_URL).set(drivername="postgresql+psycopg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_a_catalog_with_data_from_the_first_release_upgrades_to_head(empty_catalog) -> None:
    """What a district that installed the first release has: rows in every 0001 table. Every
    later migration must carry them over (defaults for new columns, nothing lost), and the
    result must be exactly the current models, usable by the current code."""
    engine = create_engine(empty_catalog)
    try:
        upgrade(engine, "0001")
        assert current_revision(engine) == "0001"
        old = MetaData()
        old.reflect(engine)
        now = datetime(2026, 11, 22, 8, 0, tzinfo=timezone.utc)
        sha = "ab" * 32
        thumb = "cd" * 32
        with engine.begin() as conn:
            def put(table: str, **row) -> None:
                conn.execute(old.tables[table].insert().values(**row))
            put("organisations", id=1, name="示例县", kind="county", parent_id=None, path="/1/", created_at=now)
            put("users", id=1, username="teacher", display_name="王老师", password_hash="scrypt:x", role="teacher",
                org_id=1, active=True, session_version=1, created_at=now, last_login_at=None)
            put("api_tokens", id=1, user_id=1, name="mirror", token_hash="0" * 64, prefix="rs_abc", created_at=now,
                last_used_at=None, revoked_at=None)
            put("vocab_terms", id=1, scheme="subject", code="math", name="数学", key="数学", position=1, data={},
                active=True)
            put("blobs", sha256=sha, size=1234, mime="application/pdf", original_filename="第1课.pdf", created_at=now)
            put("blobs", sha256=thumb, size=99, mime="image/webp", original_filename="thumb.webp", created_at=now)
            put("resources", id="r1", title="第1课 勾股定理", description="", creator="", publisher="", language="zh",
                license="", date="", stage_id=None, grade_id=None, subject_id=1, edition_id=None, volume_id=None,
                type_id=None, chapter="", lesson="勾股定理", visibility="public", status="published", org_id=1,
                owner_id=1, blob_sha256=sha, filename="第1课.pdf", format="pdf", created_at=now, updated_at=now,
                deleted_at=None)
            put("resource_tags", resource_id="r1", tag="几何")
            put("derivatives", id=1, source_sha256=sha, profile="thumbnail", blob_sha256=thumb, status="done",
                message="", created_at=now, updated_at=now)
            put("download_events", id=1, resource_id="r1", profile="original", user_id=1, org_id=1, at=now,
                client="10.0.0.5", user_agent="curl", is_bot=False)
            put("changes", seq=1, resource_id="r1", op="create", at=now, actor_id=1)
            conn.execute(old.tables["change_counter"].update().values(value=1))

        upgrade(engine)
        assert current_revision(engine) == head_revision()
        with engine.connect() as connection:   # exactly the models, as a fresh install would be
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
        with Session(engine) as session:
            resource = session.get(Resource, "r1")
            assert (resource.title, resource.download_count, resource.blob_sha256) == ("第1课 勾股定理", 0, sha)
            derivative = session.scalars(select(Derivative)).one()
            assert (derivative.meta, derivative.status, derivative.blob_sha256) == ({}, "done", thumb)
            assert session.get(User, 1).username == "teacher"
            assert session.scalars(select(ApiToken)).one().prefix == "rs_abc"
            assert session.scalars(select(DownloadEvent)).one().at == now
            assert session.scalars(select(ChangeCounter)).one().value == 1
            assert record_change(session, "r1", "update", 1) == 2     # the change log goes on
            session.commit()
    finally:
        engine.dispose()
