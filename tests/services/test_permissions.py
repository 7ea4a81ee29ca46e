"""Who sees what. The Python rule (can_view) and the SQL filter (visible_clause) must agree
for every actor and every kind of resource, and so must can_edit and editable_clause; a
teacher never sees another school's private items, not even in counts."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from repo_server.catalog.models import Resource
from repo_server.errors import NotFound
from repo_server.services import ANONYMOUS
from repo_server.services.permissions import can_edit, can_view, editable_clause, visible_clause
from repo_server.services.resources import get_resource, ingest, list_resources

KINDS = list(itertools.product(["public", "organisation", "private"], ["published", "draft"]))


@pytest.fixture
def library(services, world, stage) -> dict[tuple[str, str, str], str]:
    """One resource per (uploader, visibility, status)."""
    ids = {}
    for uploader in ("school_editor", "county_editor"):
        for visibility, status in KINDS:
            view = ingest(services, getattr(world, uploader),
                          stage(f"%PDF-1.4 {uploader} {visibility} {status}".encode()), "x.pdf",
                          {"title": f"{uploader} {visibility} {status}", "visibility": visibility,
                           "status": status})
            ids[(uploader, visibility, status)] = view["id"]
    return ids


def visible_ids(services, actor) -> set[str]:
    return {item["id"] for item in list_resources(services, actor, per_page=100)["items"]}


@pytest.mark.parametrize("who", ["admin", "county_editor", "school_editor", "teacher",
                                 "other_teacher", "county_teacher", "anonymous"])
def test_sql_filter_agrees_with_the_rule(services, world, library, who) -> None:
    actor = ANONYMOUS if who == "anonymous" else getattr(world, who)
    with services.catalog.read() as session:
        everything = session.scalars(select(Resource)).all()
        by_rule = {r.id for r in everything if can_view(actor, r)}
        by_sql = set(session.scalars(select(Resource.id).where(visible_clause(actor))))
    assert by_sql == by_rule
    assert visible_ids(services, actor) == by_rule


@pytest.mark.parametrize("who", ["admin", "county_editor", "school_editor", "teacher", "anonymous"])
def test_sql_edit_filter_agrees_with_the_rule(services, world, library, who) -> None:
    actor = ANONYMOUS if who == "anonymous" else getattr(world, who)
    with services.catalog.read() as session:
        by_rule = {r.id for r in session.scalars(select(Resource)) if can_edit(actor, r)}
        by_sql = set(session.scalars(select(Resource.id).where(editable_clause(actor))))
    assert by_sql == by_rule
    expected = {"admin": 12, "county_editor": 12, "school_editor": 6, "teacher": 0, "anonymous": 0}[who]
    assert len(by_rule) == expected


def test_expected_visibility(services, world, library) -> None:
    def seen(actor):
        ids = visible_ids(services, actor)
        return {key for key, rid in library.items() if rid in ids}

    published_public = {(u, "public", "published") for u in ("school_editor", "county_editor")}
    # Anonymous visitors and any teacher: everything public and published.
    assert seen(ANONYMOUS) == published_public
    # A teacher of 一小 also sees 一小's organisation items and the county's (one level up).
    assert seen(world.teacher) == published_public | {
        ("school_editor", "organisation", "published"), ("county_editor", "organisation", "published")}
    # A teacher of 二小 (same county) sees the county's, not 一小's.
    assert seen(world.other_teacher) == published_public | {("county_editor", "organisation", "published")}
    # The county's 教研员 does not see a school's organisation-only items.
    assert seen(world.county_teacher) == published_public | {("county_editor", "organisation", "published")}
    # Editors see everything under their organisation, drafts and private items included.
    assert seen(world.county_editor) == set(library)
    assert seen(world.school_editor) == published_public | {
        key for key in library if key[0] == "school_editor"} | {("county_editor", "organisation", "published")}
    assert seen(world.admin) == set(library)


def test_hidden_resources_are_not_found_rather_than_forbidden(services, world, library) -> None:
    private = library[("school_editor", "private", "published")]
    with pytest.raises(NotFound):
        get_resource(services, world.other_teacher, private)
    with pytest.raises(NotFound):
        get_resource(services, ANONYMOUS, private)
    assert get_resource(services, world.school_editor, private)["id"] == private


def test_public_access_off_hides_everything_from_visitors(services, world, library) -> None:
    from dataclasses import replace

    closed = replace(services, settings=replace(services.settings, public_access=False))
    assert visible_ids(closed, ANONYMOUS) == set()
    assert len(visible_ids(closed, world.teacher)) >= 2
