"""Garbage collection keeps what the last N serials or the last D days reference, and only that."""

from __future__ import annotations

import os
import time
from dataclasses import replace

import pytest

from repo_server.services.resources import delete_resource
from repo_server.sync import MirrorTree, PublisherBusy, collect, collect_garbage, publish, verify_tree
from tests.sync.conftest import publisher_lock

pytestmark = pytest.mark.parametrize("services", ["local"], indirect=True)


@pytest.fixture
def serials(services, world, library, tree) -> list[dict]:
    """Six serials; each adds a resource and withdraws the one before, so every serial but
    the last leaves one original that no later manifest names."""
    views = []
    for n in range(6):
        views.append(library.pdf(f"第{n}课.pdf"))
        if n:
            delete_resource(services, world.school_editor, views[n - 1]["id"])
        assert publish(services, root=tree, gc=False).serial == n + 1
    return views


def exported(tree, view: dict) -> bool:
    return MirrorTree(tree).object_path(view["sha256"]).exists()


def test_the_last_n_serials_keep_their_objects(serials, tree) -> None:
    report = collect_garbage(MirrorTree(tree), keep_serials=2, keep_days=0)
    assert report.kept_serials == [5, 6] and report.removed_serials == [1, 2, 3, 4]
    assert [exported(tree, v) for v in serials] == [False] * 4 + [True] * 2
    assert report.objects_removed == 4 and report.bytes_removed == sum(v["size"] for v in serials[:4])
    assert sorted(p.name for p in (tree / "manifests").iterdir()) == \
        ["5.delta.json", "5.json", "6.delta.json", "6.json"]
    assert verify_tree(tree, deep=True).ok


def test_young_manifests_keep_their_objects_until_they_are_d_days_old(serials, tree) -> None:
    assert collect_garbage(MirrorTree(tree), keep_serials=1, keep_days=7).removed_serials == []
    assert all(exported(tree, v) for v in serials)
    old = time.time() - 8 * 86400
    for serial in (1, 2, 3):
        os.utime(tree / "manifests" / f"{serial}.json", (old, old))
    report = collect_garbage(MirrorTree(tree), keep_serials=1, keep_days=7)
    assert report.kept_serials == [4, 5, 6] and report.removed_serials == [1, 2, 3]
    assert [exported(tree, v) for v in serials] == [False] * 3 + [True] * 3
    assert verify_tree(tree, deep=True).ok


def test_objects_no_manifest_names_are_removed_and_currents_are_never(serials, tree) -> None:
    stray = MirrorTree(tree).object_path("ef" * 32)
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"left by a publisher that died before its manifest")
    collect_garbage(MirrorTree(tree), keep_serials=1, keep_days=0)
    assert not stray.exists() and exported(tree, serials[-1])
    assert verify_tree(tree).ok and verify_tree(tree).serial == 6


def test_publish_collects_with_the_configured_retention(services, serials, library, tree) -> None:
    services.settings = replace(services.settings, mirror_keep_serials=3, mirror_keep_days=0)
    report = publish(services, root=tree, gc=True)   # a no-change run: nothing published, no gc
    assert report.gc is None
    library.pdf("第7课.pdf")
    report = publish(services, root=tree, gc=True)
    assert report.serial == 7 and report.gc.kept_serials == [5, 6, 7]
    assert [exported(tree, v) for v in serials] == [False] * 4 + [True] * 2


def test_collect_waits_for_no_publisher(services, serials, tree) -> None:
    with publisher_lock(tree), pytest.raises(PublisherBusy):
        collect(services, root=tree)
    services.settings = replace(services.settings, mirror_keep_serials=1, mirror_keep_days=0)
    assert collect(services, root=tree).removed_serials == [1, 2, 3, 4, 5]
