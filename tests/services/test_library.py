"""The catalog tree, favourites, lessons, bulk edit and the review queue, as services.

Every count and list is checked against the permission rule: a teacher never sees another
school's private items, not in the tree's counts, not in a lesson, not in a zip's list.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from repo_server.catalog.models import Change, Resource
from repo_server.errors import AuthenticationRequired, InvalidInput, NotFound, PermissionDenied
from repo_server.services import ANONYMOUS, browse, favourites, lessons
from repo_server.services.resources import bulk_update, editable_resources, get_resource, ingest

MATH8 = {"stage": "初中", "subject": "数学", "edition": "人教版", "grade": "八年级", "volume": "上册",
         "chapter": "第十一章 三角形"}


@pytest.fixture
def shelf(services, world, stage):
    """A small library: one lesson with three files (one private to 一小), other lessons, a
    Chinese lesson and a draft."""
    def add(title, uploader="school_editor", **fields):
        return ingest(services, getattr(world, uploader), stage(f"%PDF-1.4 {title}".encode()),
                      f"{title}.pdf", {"title": title, **fields})["id"]
    ids = {
        "plan": add("三角形的边 教案", **MATH8, lesson="第1课 三角形的边", type="教案"),
        "slides": add("三角形的边 课件", **MATH8, lesson="第1课 三角形的边", type="课件"),
        "private": add("三角形的边 校本练习", **MATH8, lesson="第1课 三角形的边", visibility="private"),
        "l2": add("第2课", **MATH8, lesson="第2课 三角形的高"),
        "l10": add("第10课", **MATH8, lesson="第10课 多边形"),
        "other_volume": add("下册", **{**MATH8, "volume": "下册"}, lesson="第1课 三角形的边"),
        "chinese": add("春", stage="初中", subject="语文", grade="七年级", lesson="春"),
        "draft": add("草稿", **MATH8, status="draft"),
        "county": add("县里的", uploader="county_editor", **MATH8),
    }
    return ids


def test_the_home_tree_counts_what_each_asker_may_see(services, world, shelf) -> None:
    teacher = {s["value"]: s for s in browse.home_tree(services, world.teacher)}
    assert list(teacher) == ["初中"]
    assert {s["value"]: s["count"] for s in teacher["初中"]["subjects"]} == {"数学": 6, "语文": 1}
    assert teacher["初中"]["count"] == 7
    other = {s["value"]: s for s in browse.home_tree(services, world.other_teacher)}
    assert {s["value"]: s["count"] for s in other["初中"]["subjects"]} == {"数学": 6, "语文": 1}
    editor = {s["value"]: s for s in browse.home_tree(services, world.school_editor)}
    assert editor["初中"]["count"] == 9             # the private item and the draft are theirs
    assert browse.home_tree(services, ANONYMOUS)[0]["count"] == 7


def test_a_node_lists_its_children_in_vocabulary_and_natural_order(services, world, shelf) -> None:
    root = browse.catalog_node(services, world.teacher, {})
    assert root.level == "stage" and root.total == 7 and root.children == [{"value": "初中", "count": 7}]
    volume = browse.catalog_node(services, world.teacher, {k: MATH8[k] for k in
                                                           ("stage", "subject", "edition", "grade")})
    assert [c["value"] for c in volume.children] == ["上册", "下册"]
    chapter = browse.catalog_node(services, world.teacher, MATH8)
    assert chapter.level == "lesson"
    assert chapter.children == [{"value": "第1课 三角形的边", "count": 2}, {"value": "第2课 三角形的高", "count": 1},
                                {"value": "第10课 多边形", "count": 1}]
    assert chapter.total == 5                       # + the county's item without a lesson
    editor = browse.catalog_node(services, world.school_editor, MATH8)
    assert editor.children[0] == {"value": "第1课 三角形的边", "count": 3}
    listing = browse.resources_under(services, world.teacher, chapter, per_page=2)
    assert listing["total"] == 5 and len(listing["items"]) == 2


@pytest.mark.parametrize("params", [{"subject": "数学"}, {"stage": "初中", "lesson": "春"},
                                    {"stage": "火星"}, {"stage": "初一"}])
def test_a_path_with_a_gap_or_an_unknown_name_is_not_found(services, world, shelf, params) -> None:
    with pytest.raises(NotFound):
        browse.catalog_node(services, world.teacher, params)


def test_favourites_are_per_user_idempotent_and_follow_permissions(services, world, shelf) -> None:
    assert favourites.set_favourite(services, world.teacher, shelf["plan"], True)
    favourites.set_favourite(services, world.teacher, shelf["plan"], True)
    favourites.set_favourite(services, world.teacher, shelf["chinese"], True)
    listing = favourites.list_favourites(services, world.teacher)
    assert [i["id"] for i in listing["items"]] == [shelf["chinese"], shelf["plan"]] and listing["total"] == 2
    assert favourites.is_favourite(services, world.teacher, shelf["plan"])
    assert not favourites.is_favourite(services, world.other_teacher, shelf["plan"])
    assert favourites.list_favourites(services, world.other_teacher)["total"] == 0
    with pytest.raises(NotFound):   # another school's private item cannot be marked (or probed)
        favourites.set_favourite(services, world.other_teacher, shelf["private"], True)
    with pytest.raises(AuthenticationRequired):
        favourites.set_favourite(services, ANONYMOUS, shelf["plan"], True)
    # Made private later: it leaves the list without being forgotten.
    bulk_update(services, world.school_editor, [shelf["plan"]], {"visibility": "private"})
    assert favourites.list_favourites(services, world.teacher)["total"] == 1
    bulk_update(services, world.school_editor, [shelf["plan"]], {"visibility": "public"})
    assert favourites.list_favourites(services, world.teacher)["total"] == 2
    favourites.set_favourite(services, world.teacher, shelf["plan"], False)
    assert [i["id"] for i in favourites.list_favourites(services, world.teacher)["items"]] == [shelf["chinese"]]


def test_a_lesson_holds_the_visible_files_of_the_same_lesson_and_volume(services, world, shelf) -> None:
    lesson = lessons.lesson_of(services, world.other_teacher, shelf["slides"])
    assert lesson.name == "人教版 八年级 上册 第1课 三角形的边"
    assert {m["id"] for m in lesson.members} == {shelf["plan"], shelf["slides"]}
    assert [f.resource_id for f in lesson.files] == [m["id"] for m in lesson.members]
    assert lesson.total == 2 and lesson.path == {**MATH8, "lesson": "第1课 三角形的边"}
    first = lessons.lesson_of(services, world.school_editor, shelf["slides"], limit=1)
    assert len(first.members) == len(first.files) == 1 and first.total == 3    # the private one is theirs
    mine = lessons.lesson_of(services, world.school_editor, shelf["slides"])
    assert {m["id"] for m in mine.members} == {shelf["plan"], shelf["slides"], shelf["private"]}
    assert lessons.lesson_of(services, world.teacher, shelf["county"]) is None   # no 课
    with pytest.raises(NotFound):
        lessons.lesson_of(services, world.other_teacher, shelf["private"])


def _changes(services) -> int:
    with services.catalog.read() as session:
        return session.scalar(select(func.count()).select_from(Change))


def test_bulk_update_classifies_tags_and_publishes_what_the_editor_may_change(services, world, shelf) -> None:
    chosen = [shelf["draft"], shelf["l2"], shelf["county"], "nonexistent"]
    before = _changes(services)
    result = bulk_update(services, world.school_editor, chosen, {"type": "课件", "status": "published"},
                         add_tags=["期中复习", "三角形"], remove_tags=["nothing"])
    assert result["changed"] == [shelf["draft"], shelf["l2"]]
    assert result["skipped"] == {shelf["county"]: "not allowed", "nonexistent": "not found"}
    assert _changes(services) == before + 2           # the index and mirrors hear of both
    draft = get_resource(services, world.teacher, shelf["draft"])   # published: teachers see it
    assert draft["type"]["name"] == "课件" and draft["tags"] == ["三角形", "期中复习"]
    again = bulk_update(services, world.school_editor, [shelf["draft"]], {}, remove_tags=["三角形"])
    assert again["changed"] == [shelf["draft"]]
    assert get_resource(services, world.teacher, shelf["draft"])["tags"] == ["期中复习"]
    assert bulk_update(services, world.school_editor, [shelf["draft"]], {"type": "课件"})["unchanged"] == [shelf["draft"]]


def test_an_invalid_bulk_change_changes_nothing(services, world, shelf) -> None:
    before = _changes(services)
    with services.catalog.read() as session:
        stamp = session.get(Resource, shelf["l2"]).updated_at
    with pytest.raises(InvalidInput):
        bulk_update(services, world.school_editor, [shelf["l2"], shelf["l10"]], {"subject": "炼金术"})
    with pytest.raises(InvalidInput):
        bulk_update(services, world.school_editor, [], {"type": "课件"})
    with pytest.raises(InvalidInput):
        bulk_update(services, world.school_editor, [shelf["l2"]], {"tags": ["x"]})
    with pytest.raises(PermissionDenied):
        bulk_update(services, world.teacher, [shelf["l2"]], {"type": "课件"})
    assert _changes(services) == before
    with services.catalog.read() as session:
        assert session.get(Resource, shelf["l2"]).updated_at == stamp


def test_the_review_queue_lists_drafts_oldest_first(services, world, shelf, stage) -> None:
    second = ingest(services, world.school_editor, stage(b"%PDF-1.4 second draft"), "b.pdf",
                    {"title": "第二份草稿", "status": "draft"})["id"]
    queue = editable_resources(services, world.school_editor, status="draft")
    assert [i["id"] for i in queue["items"]] == [shelf["draft"], second]
    assert editable_resources(services, world.county_editor, status="draft")["total"] == 2
    assert editable_resources(services, world.county_editor, status=None)["total"] == 10
    assert editable_resources(services, world.school_editor, status=None)["total"] == 9
    with pytest.raises(PermissionDenied):
        editable_resources(services, world.teacher)


def test_the_home_tree_is_recounted_after_any_change(services, world, shelf, stage) -> None:
    def count() -> int:
        return sum(s["count"] for s in browse.home_tree(services, world.teacher))
    before = count()
    assert count() == before                          # the kept answer
    ingest(services, world.school_editor, stage(b"%PDF-1.4 new"), "n.pdf", {"title": "新", "stage": "初中"})
    assert count() == before + 1
    bulk_update(services, world.school_editor, [shelf["plan"]], {"visibility": "private"})
    assert count() == before                          # made private: gone for the teacher at once
    assert sum(s["count"] for s in browse.home_tree(services, world.school_editor)) == before + 3


def test_a_node_and_its_listing_are_recounted_after_any_change(services, world, shelf, stage) -> None:
    from repo_server.services.downloads import download_target, record_download
    from repo_server.services.resources import delete_resource

    def look() -> tuple[int, list, list[str], dict[str, int]]:
        node = browse.catalog_node(services, world.teacher, MATH8)
        listing = browse.resources_under(services, world.teacher, node)["items"]
        return node.total, node.children, [r["id"] for r in listing], {r["id"]: r["download_count"] for r in listing}
    total, children, ids, _ = look()
    assert look()[:3] == (total, children, ids)       # the kept answer
    added = ingest(services, world.school_editor, stage(b"%PDF-1.4 new lesson"), "n.pdf",
                   {"title": "新课", **MATH8, "lesson": "第3课 新"})["id"]
    total2, children2, ids2, _ = look()
    assert total2 == total + 1 and ids2[0] == added    # newest first, at once
    assert {"value": "第3课 新", "count": 1} in children2
    bulk_update(services, world.school_editor, [shelf["plan"]], {"visibility": "private"})
    assert shelf["plan"] not in look()[2] and look()[0] == total
    delete_resource(services, world.school_editor, added)
    after = [dict(c, count=c["count"] - (c["value"] == "第1课 三角形的边")) for c in children]
    assert look()[:3] == (total - 1, after, [i for i in ids if i != shelf["plan"]])
    target = download_target(services, world.teacher, shelf["slides"])
    record_download(services, world.teacher, target, client="10.0.0.1", user_agent="Mozilla/5.0")
    assert look()[3][shelf["slides"]] == 1             # counts are read fresh, not kept


def test_popular_lists_only_what_the_asker_may_see(services, world, shelf) -> None:
    from repo_server.services.downloads import download_target, record_download
    for rid in (shelf["private"], shelf["plan"], shelf["plan"]):
        target = download_target(services, world.school_editor, rid)
        record_download(services, world.school_editor, target, client="10.0.0.1", user_agent="Mozilla/5.0")
        record_download(services, world.county_editor, target, client="10.0.0.2", user_agent="Mozilla/5.0")
    assert [r["id"] for r in browse.popular_resources(services, world.teacher)] == [shelf["plan"]]
    assert {r["id"] for r in browse.popular_resources(services, world.school_editor)} == {shelf["plan"],
                                                                                         shelf["private"]}
