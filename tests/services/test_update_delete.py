"""Changing and withdrawing resources, and the change log entries that feed mirrors/search."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from repo_server.catalog.models import Change
from repo_server.errors import AuthenticationRequired, InvalidInput, NotFound, PermissionDenied
from repo_server.services import ANONYMOUS
from repo_server.services.consistency import check_consistency
from repo_server.services.resources import delete_resource, get_resource, ingest, update_resource


@pytest.fixture
def resource(services, world, stage) -> dict:
    return ingest(services, world.school_editor, stage(b"%PDF-1.4 lesson"), "第3课.pdf",
                  {"subject": "数学", "tags": ["复习"]})


def ops(services) -> list[str]:
    with services.catalog.read() as session:
        return [c.op for c in session.scalars(select(Change).order_by(Change.seq))]


def test_update_changes_fields_and_logs_once(services, world, resource) -> None:
    view = update_resource(services, world.school_editor, resource["id"],
                           {"title": "勾股定理复习", "grade": "初二", "tags": ["复习", "几何"],
                            "subject": ""})
    assert view["title"] == "勾股定理复习"
    assert view["grade"]["name"] == "八年级" and view["stage"]["name"] == "初中"
    assert view["subject"] is None
    assert view["tags"] == ["几何", "复习"]
    assert ops(services) == ["create", "update"]


def test_update_that_changes_nothing_logs_nothing(services, world, resource) -> None:
    update_resource(services, world.school_editor, resource["id"], {"subject": "数学"})
    assert ops(services) == ["create"]


def test_visibility_and_status_changes_are_logged_as_such(services, world, resource) -> None:
    update_resource(services, world.school_editor, resource["id"], {"visibility": "私有"})
    update_resource(services, world.school_editor, resource["id"], {"status": "draft"})
    assert ops(services) == ["create", "visibility", "visibility"]
    with pytest.raises(NotFound):
        get_resource(services, world.teacher, resource["id"])


def test_title_cannot_be_emptied(services, world, resource) -> None:
    with pytest.raises(InvalidInput, match="title"):
        update_resource(services, world.school_editor, resource["id"], {"title": "  "})


def test_who_may_change(services, world, resource) -> None:
    with pytest.raises(PermissionDenied):
        update_resource(services, world.teacher, resource["id"], {"title": "x"})
    with pytest.raises(AuthenticationRequired):
        update_resource(services, ANONYMOUS, resource["id"], {"title": "x"})
    # An editor of the county above may; an editor of nowhere near may not even see a draft.
    update_resource(services, world.county_editor, resource["id"], {"status": "draft"})
    with pytest.raises(NotFound):
        update_resource(services, world.other_teacher, resource["id"], {"title": "x"})
    assert ops(services) == ["create", "visibility"]


def test_delete_leaves_a_tombstone_and_keeps_the_blob(services, world, stage, resource) -> None:
    delete_resource(services, world.school_editor, resource["id"])
    assert ops(services) == ["create", "delete"]
    for actor in (world.school_editor, world.admin):
        with pytest.raises(NotFound):
            get_resource(services, actor, resource["id"])
    with pytest.raises(NotFound):
        delete_resource(services, world.admin, resource["id"])
    assert services.blobs.exists(resource["sha256"])
    report = check_consistency(services)
    assert report.ok and report.unreferenced == [resource["sha256"]]
    # The same file may be uploaded again once withdrawn.
    again = ingest(services, world.school_editor, stage(b"%PDF-1.4 lesson"), "第3课.pdf", {})
    assert again["sha256"] == resource["sha256"] and again["id"] != resource["id"]
    assert check_consistency(services).unreferenced == []
