"""Ingest: the file and its metadata become a resource, or nothing at all is left behind."""

from __future__ import annotations

import hashlib
import threading

import pytest
from sqlalchemy import func, select, text

from repo_server.catalog.models import Blob, Change, Resource
from repo_server.errors import (DangerousFile, Duplicate, EmptyFile, ExtensionMismatch, InvalidInput,
                                PermissionDenied, UnknownTerm, UnsupportedType)
from repo_server.services.consistency import check_consistency
from repo_server.services.resources import get_resource, ingest

PPTX_NAME = "勾股定理 课件.pptx"


def counts(services) -> tuple[int, int, int]:
    with services.catalog.read() as session:
        return (session.scalar(select(func.count()).select_from(Resource)),
                session.scalar(select(func.count()).select_from(Blob)),
                session.scalar(select(func.count()).select_from(Change)))


def assert_nothing_left(services) -> None:
    assert counts(services) == (0, 0, 0)
    assert list(services.blobs.iter_sha256()) == []
    assert list(services.settings.staging_dir.iterdir()) == []


def test_ingest_creates_resource_blob_and_change(services, world, stage, corpus) -> None:
    data = corpus("bug64693.pptx").read_bytes()
    view = ingest(services, world.school_editor, stage(data), PPTX_NAME,
                  {"grade": "初二", "subject": "数学", "edition": "人教版", "type": "PPT",
                   "tags": ["公开课", "几何，证明"]})
    assert view["sha256"] == hashlib.sha256(data).hexdigest()
    assert view["title"] == "勾股定理 课件"           # from the file name
    assert view["stage"]["name"] == "初中"              # implied by 初二
    assert view["grade"]["name"] == "八年级"
    assert view["type"]["name"] == "课件"
    assert view["tags"] == ["公开课", "几何", "证明"]
    assert (view["language"], view["visibility"], view["status"]) == ("zh-CN", "public", "published")
    assert view["format"] == "presentation"
    assert view["organisation"]["name"] == "一小"      # the uploader's organisation
    assert counts(services) == (1, 1, 1)
    with services.blobs.open(view["sha256"]) as stream:
        assert stream.read() == data
    assert list(services.settings.staging_dir.iterdir()) == []


def test_same_bytes_are_refused_naming_the_existing_resource(services, world, stage) -> None:
    first = ingest(services, world.school_editor, stage(b"%PDF-1.4 same bytes"), "a.pdf", {"title": "甲"})
    with pytest.raises(Duplicate) as caught:
        ingest(services, world.school_editor, stage(b"%PDF-1.4 same bytes"), "b.pdf", {"title": "乙"})
    assert caught.value.details["existing"] == {"id": first["id"], "title": "甲"}
    assert counts(services) == (1, 1, 1)
    assert list(services.settings.staging_dir.iterdir()) == []


def test_duplicate_hidden_from_the_uploader_is_not_named(services, world, stage) -> None:
    ingest(services, world.school_editor, stage(b"%PDF-1.4 private"), "a.pdf",
           {"title": "私有的", "visibility": "private"})
    other_editor = world.county_editor.__class__(**{**world.county_editor.__dict__, "org_id": None,
                                                     "org_path": "", "role": "editor", "user_id": 999})
    with pytest.raises(Duplicate) as caught:
        ingest(services, other_editor, stage(b"%PDF-1.4 private"), "b.pdf", {})
    assert "existing" not in caught.value.details
    assert "私有的" not in caught.value.message


def test_allow_duplicate_files_the_same_bytes_again_stored_once(services, world, stage) -> None:
    a = ingest(services, world.school_editor, stage(b"%PDF-1.4 shared"), "a.pdf", {"lesson": "第1课"})
    b = ingest(services, world.school_editor, stage(b"%PDF-1.4 shared"), "b.pdf", {"lesson": "第2课"},
               allow_duplicate=True)
    assert a["sha256"] == b["sha256"] and a["id"] != b["id"]
    assert counts(services) == (2, 1, 2)
    assert list(services.blobs.iter_sha256()) == [a["sha256"]]


@pytest.mark.parametrize(("data", "name", "error"), [
    (b"", "空.pdf", EmptyFile),
    (b"#!/bin/sh\nrm -rf /\n", "setup.txt", DangerousFile),      # a script, whatever its name
    (b"MZ\x90\x00" + b"\x00" * 200, "课件.exe", DangerousFile),
    (b"just text", "notes.bat", DangerousFile),                 # dangerous by name
    (b"\x00\x01\x02\x03" * 100, "data.bin", UnsupportedType),
    (b"bytestream of video would appear here", "lesson.mp4", ExtensionMismatch),
])
def test_refused_files_leave_nothing(services, world, stage, data, name, error) -> None:
    with pytest.raises(error):
        ingest(services, world.school_editor, stage(data), name, {"title": "x"})
    assert_nothing_left(services)


def test_corpus_file_with_lying_extension(services, world, stage, corpus) -> None:
    with pytest.raises(ExtensionMismatch, match="video"):
        ingest(services, world.school_editor, stage(corpus("dummy.mp4").read_bytes()), "dummy.mp4", {})
    assert_nothing_left(services)


@pytest.mark.parametrize(("metadata", "error", "field"), [
    ({"subject": "数字"}, UnknownTerm, "subject"),
    ({"title": "<script>alert(1)</script>"}, InvalidInput, "title"),
    ({"description": 'see <img src=x onerror="alert(1)">'}, InvalidInput, "description"),
    ({"title": "a\x00b"}, InvalidInput, "title"),
    ({"date": "2023-13-01"}, InvalidInput, "date"),
    ({"visibility": "everyone"}, InvalidInput, "visibility"),
    ({"titel": "typo"}, InvalidInput, "titel"),
    ({"stage": "小学", "grade": "七年级"}, InvalidInput, "grade"),
])
def test_invalid_metadata_leaves_nothing(services, world, stage, metadata, error, field) -> None:
    with pytest.raises(error) as caught:
        ingest(services, world.school_editor, stage(b"%PDF-1.4 x"), "a.pdf", metadata)
    assert caught.value.field == field
    assert_nothing_left(services)


def test_several_invalid_fields_are_reported_together(services, world, stage) -> None:
    with pytest.raises(InvalidInput) as caught:
        ingest(services, world.school_editor, stage(b"%PDF-1.4 x"), "a.pdf",
               {"subject": "数字", "date": "yesterday"})
    fields = sorted(e["field"] for e in caught.value.details["errors"])
    assert fields == ["date", "subject"]


def test_plain_text_that_only_looks_like_markup_is_kept(services, world, stage) -> None:
    view = ingest(services, world.school_editor, stage(b"%PDF-1.4 x"), "a.pdf",
                  {"title": "<<静夜思>> 与 a<b 的证明"})
    assert get_resource(services, world.teacher, view["id"])["title"] == "<<静夜思>> 与 a<b 的证明"


def test_teachers_and_visitors_cannot_upload(services, world, stage) -> None:
    with pytest.raises(PermissionDenied):
        ingest(services, world.teacher, stage(b"%PDF-1.4 x"), "a.pdf", {})
    assert_nothing_left(services)


def test_a_failing_commit_removes_the_new_blob(services, world, stage) -> None:
    """A real database failure at insert time (a trigger), after the blob entered the store."""
    engine = services.catalog.engine
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("CREATE TRIGGER fail_insert BEFORE INSERT ON changes "
                              "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"))
        else:
            conn.execute(text("CREATE FUNCTION fail_insert() RETURNS trigger AS $$ BEGIN "
                              "RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql"))
            conn.execute(text("CREATE TRIGGER fail_insert BEFORE INSERT ON changes "
                              "FOR EACH ROW EXECUTE FUNCTION fail_insert()"))
    try:
        with pytest.raises(Exception, match="injected failure"):
            ingest(services, world.school_editor, stage(b"%PDF-1.4 doomed"), "a.pdf", {})
        assert_nothing_left(services)
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP TRIGGER fail_insert" + ("" if engine.dialect.name == "sqlite"
                                                            else " ON changes")))
            if engine.dialect.name != "sqlite":
                conn.execute(text("DROP FUNCTION fail_insert()"))


def test_failure_keeps_a_blob_that_existed_before(services, world, stage) -> None:
    kept = ingest(services, world.school_editor, stage(b"%PDF-1.4 kept"), "a.pdf", {})
    with pytest.raises(InvalidInput):
        ingest(services, world.school_editor, stage(b"%PDF-1.4 kept"), "b.pdf", {"date": "bad"},
               allow_duplicate=True)
    assert services.blobs.exists(kept["sha256"])
    assert check_consistency(services).ok


def test_concurrent_identical_uploads_store_one_resource(services, world, stage) -> None:
    outcomes: list[str] = []
    staged = [stage(b"%PDF-1.4 raced bytes") for _ in range(4)]

    def upload(item) -> None:
        try:
            ingest(services, world.school_editor, item, "race.pdf", {})
            outcomes.append("created")
        except Duplicate:
            outcomes.append("duplicate")

    threads = [threading.Thread(target=upload, args=(s,)) for s in staged]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["created", "duplicate", "duplicate", "duplicate"]
    assert counts(services)[:2] == (1, 1)
    assert check_consistency(services).ok
    assert list(services.settings.staging_dir.iterdir()) == []
