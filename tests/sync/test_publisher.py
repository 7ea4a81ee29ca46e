"""`publish` against a real catalog (SQLite, PostgreSQL) and real blob stores (local, S3):
what a manifest holds, determinism, change detection, deltas, and what a failure leaves."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from repo_server.blobstore import blob_key
from repo_server.ingest.extract import Extraction
from repo_server.services.resources import delete_resource, update_resource
from repo_server.services.media_work import run_job
from repo_server.services.texts import store_text
from repo_server.sync import (MirrorTree, PublishError, PublisherBusy, apply_delta, publish, read_delta,
                              verify_tree)
from tests.sync.conftest import current, env_of, manifest, publisher_lock

LOCAL = pytest.mark.parametrize("services", ["local"], indirect=True)


def test_a_manifest_lists_public_published_resources_with_everything_a_mirror_needs(
        services, world, library, tree) -> None:
    lesson = library.pdf("第3课 勾股定理.pdf", title="勾股定理", tags=["复习", "几何"], chapter="第十七章",
                         lesson="第1课时", edition="人教版")
    text = "勾股定理：直角三角形两直角边的平方和等于斜边的平方。"
    store_text(services, lesson["sha256"], Extraction("done", text, len(text), False, "pdfium", ""))
    hidden = [library.pdf(visibility="private"), library.pdf(status="draft"),
              library.pdf(visibility="organisation"), library.pdf()]
    delete_resource(services, world.school_editor, hidden[-1]["id"])

    report = publish(services, root=tree)
    _, vocabulary, entries = manifest(tree)
    assert report.published and report.serial == 1 and list(entries) == [lesson["id"]]
    entry = entries[lesson["id"]]
    codes = {(t["scheme"], t["name"]): t["code"] for t in vocabulary}
    assert entry["subject"] == codes[("subject", "数学")] and entry["grade"] == codes[("grade", "八年级")]
    assert entry["stage"] == codes[("stage", "初中")] and entry["edition"] == codes[("edition", "人教版")]
    assert (entry["title"], entry["filename"], entry["tags"]) == ("勾股定理", "第3课 勾股定理.pdf", ["几何", "复习"])
    assert (entry["chapter"], entry["lesson"], entry["format"]) == ("第十七章", "第1课时", "document")
    assert entry["organisation"] == {"name": "一小", "kind": "school", "path": ["示例市", "示例县", "一小"]}
    assert entry["original"] == {"sha256": lesson["sha256"], "size": lesson["size"], "mime": "application/pdf"}
    assert "download_count" not in entry and entry["created"].endswith("Z")
    text_object = tree / "objects" / entry["text"]["sha256"][:2] / entry["text"]["sha256"][2:4] / entry["text"]["sha256"]
    assert text_object.read_bytes().decode() == text and entry["text"]["chars"] == len(text)
    assert entry["text"]["status"] == "done" and entry["text"]["truncated"] is False

    pointer, data = current(tree), (tree / "manifests" / "1.json").read_bytes()
    assert pointer["sha256"] == hashlib.sha256(data).hexdigest() and pointer["size"] == len(data)
    assert (pointer["resources"], pointer["objects"]) == (1, 2) and pointer["delta"] is None
    assert pointer["bytes"] == lesson["size"] + len(text.encode())
    assert verify_tree(tree, deep=True).ok


def _png_with_thumbnail(services, library, corpus) -> dict:
    view = library.file(corpus("hopper.png").read_bytes(), "图片 素材.png", type="素材")
    assert run_job(services, view["media"]["id"]).status == "done"
    return view


def test_the_same_catalog_state_gives_the_same_manifest_bytes(services, library, corpus, tree) -> None:
    for n in range(3):
        library.pdf(f"第{n}课.pdf", tags=["标签乙", "标签甲", f"t{n}"])
    _png_with_thumbnail(services, library, corpus)
    publish(services, root=tree)
    # Another process, another hash seed, the command an operator runs: the same bytes.
    for seed in ("0", "4242"):
        result = subprocess.run([sys.executable, "-m", "repo_server.cli", "mirror", "publish"],
                                env={**os.environ, **env_of(services.settings), "PYTHONHASHSEED": seed},
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        other = services.settings.mirror_dir
        assert str(other) in result.stdout and "4 resources" in result.stdout
        assert (other / "manifests" / "1.json").read_bytes() == (tree / "manifests" / "1.json").read_bytes()
        assert sorted(p.name for p in (other / "objects").rglob("*") if p.is_file()) == \
            sorted(p.name for p in (tree / "objects").rglob("*") if p.is_file())
        MirrorTree(other).current_path.unlink()   # the next round starts from nothing again
        for path in (other / "manifests").iterdir():
            path.unlink()


def test_nothing_changed_means_no_new_serial(services, world, library, tree) -> None:
    kept = library.pdf()
    draft = library.pdf(status="draft")
    publish(services, root=tree)
    before = (tree / "CURRENT").read_bytes()
    again = publish(services, root=tree)
    assert not again.published and again.serial == 1 and again.resources == 1
    update_resource(services, world.school_editor, draft["id"], {"title": "还在审核"})  # not mirrored
    quiet = publish(services, root=tree)
    assert not quiet.published and (tree / "CURRENT").read_bytes() == before
    assert MirrorTree(tree).serials() == [1]
    update_resource(services, world.school_editor, kept["id"], {"title": "改过的标题"})
    assert publish(services, root=tree).serial == 2


def test_changes_reach_the_next_manifest_and_its_delta_applies_exactly(services, world, library, tree,
                                                                       tmp_path) -> None:
    a, b, c = library.pdf("甲.pdf"), library.pdf("乙.pdf"), library.pdf("丙.pdf")
    publish(services, root=tree)
    first = current(tree)
    d = library.pdf("丁.pdf")
    update_resource(services, world.school_editor, a["id"], {"title": "甲（修订）", "tags": ["新"]})
    delete_resource(services, world.school_editor, b["id"])
    update_resource(services, world.school_editor, c["id"], {"visibility": "private"})
    report = publish(services, root=tree)
    _, _, entries = manifest(tree)
    assert (report.serial, report.upserts, report.removed) == (2, 2, 2)
    assert sorted(entries) == sorted([a["id"], d["id"]]) and entries[a["id"]]["tags"] == ["新"]
    assert entries[a["id"]]["title"] == "甲（修订）"

    delta = read_delta(tree / "manifests" / "2.delta.json")
    assert sorted(delta.upserts) == sorted([a["id"], d["id"]]) and sorted(delta.removed) == sorted([b["id"], c["id"]])
    assert (delta.base.serial, delta.base.sha256, delta.vocabulary) == (1, first["sha256"], None)
    assert current(tree)["delta"] == {"path": "manifests/2.delta.json", "base": 1,
                                      "sha256": hashlib.sha256((tree / "manifests/2.delta.json").read_bytes()).hexdigest(),
                                      "size": (tree / "manifests/2.delta.json").stat().st_size}
    rebuilt = apply_delta(tree / "manifests" / "1.json", tree / "manifests" / "2.delta.json", tmp_path / "2.json")
    assert (tmp_path / "2.json").read_bytes() == (tree / "manifests" / "2.json").read_bytes()
    assert rebuilt.sha256 == current(tree)["sha256"]

    # Back to public and back to draft travel the same way; the incremental result is what
    # a full recomputation gives, to the byte (the full run finds nothing to publish).
    update_resource(services, world.school_editor, c["id"], {"visibility": "public"})
    update_resource(services, world.school_editor, a["id"], {"status": "draft"})
    assert publish(services, root=tree).serial == 3
    assert sorted(manifest(tree)[2]) == sorted([c["id"], d["id"]])
    full = publish(services, root=tree, full=True)
    assert full.full and not full.published and full.upserts == 0 and full.resources == 2


def test_vocabulary_changes_travel_in_the_delta(services, library, tree, tmp_path) -> None:
    from repo_server.services.vocabularies import create_term

    library.pdf()
    publish(services, root=tree)
    create_term(services, None, "edition", "某省地方版", aliases=["地方版"])
    assert publish(services, root=tree).serial == 2
    delta = read_delta(tree / "manifests" / "2.delta.json")
    assert not delta.upserts and any(t["name"] == "某省地方版" and t["aliases"] == ["地方版"]
                                     for t in delta.vocabulary)
    rebuilt = apply_delta(tree / "manifests" / "1.json", tree / "manifests" / "2.delta.json", tmp_path / "2.json")
    assert rebuilt.sha256 == current(tree)["sha256"]


def test_renditions_reach_the_manifest_when_their_job_ends(services, library, corpus, tree) -> None:
    png = library.file(corpus("hopper.png").read_bytes(), "图.png")
    pdf = library.file(corpus("multilang.pdf").read_bytes(), "多语言.pdf")
    publish(services, root=tree)
    assert all(e["derivatives"] == [] for e in manifest(tree)[2].values())
    for view in (png, pdf):
        assert run_job(services, view["media"]["id"]).status == "done"
    report = publish(services, root=tree)
    entries = manifest(tree)[2]
    assert report.serial == 2 and report.upserts == 2
    thumbnail = {d["profile"]: d for d in entries[png["id"]]["derivatives"]}["thumbnail"]
    assert thumbnail["meta"]["width"] > 0 and thumbnail["files"][0]["mime"] == "image/webp"
    pages = {d["profile"]: d for d in entries[pdf["id"]]["derivatives"]}["pages"]
    assert [f["page"] for f in pages["files"]] == list(range(1, pages["meta"]["page_count"] + 1))
    with services.blobs.open(pages["files"][0]["sha256"]) as stream:
        assert MirrorTree(tree).object_path(pages["files"][0]["sha256"]).read_bytes() == stream.read()
    files = sum(len(d["files"]) for e in entries.values() for d in e["derivatives"])
    assert files >= 3 and current(tree)["objects"] == report.objects == 2 + files
    assert verify_tree(tree, deep=True).ok
    assert not publish(services, root=tree).published   # the ended jobs count once


def test_text_is_capped_and_failures_are_shipped_without_an_object(services, library, tree) -> None:
    services.settings = replace(services.settings, extract_max_chars=1000)
    big, broken = library.pdf("长文.pdf"), library.pdf("坏.pdf")
    huge = "勾股定理的证明方法有很多种。" * 5000
    store_text(services, big["sha256"], Extraction("done", huge, len(huge), False, "pdfium", ""))
    store_text(services, broken["sha256"], Extraction.failed("the PDF is damaged", "pdfium"))
    publish(services, root=tree)
    entries = manifest(tree)[2]
    text = entries[big["id"]]["text"]
    assert (text["chars"], text["truncated"]) == (1000, True)
    path = MirrorTree(tree).object_path(text["sha256"])
    assert path.read_bytes() == huge[:1000].encode() and text["size"] == path.stat().st_size
    assert entries[broken["id"]]["text"] == {"status": "failed", "extractor": "pdfium",
                                            "message": "the PDF is damaged"}


def test_hostile_metadata_keeps_one_resource_per_line(services, library, tree) -> None:
    fake = '"sha256":"' + "ab" * 32 + '","size":999999'
    odd = library.pdf("文件\u3000名 (最终版)「副本」😀.pdf", title='标题 "引号" \\ 反斜杠 \u2028 分隔',
                      description=f"第一行\n第二行\u2029{fake}")
    plain = library.pdf()
    publish(services, root=tree)
    path = tree / "manifests" / "1.json"
    entry = manifest(tree)[2][odd["id"]]
    assert entry["filename"] == "文件\u3000名 (最终版)「副本」😀.pdf" and fake in entry["description"]
    assert "😀".encode() in path.read_bytes()       # UTF-8 text, not \u escapes
    assert len(path.read_bytes().split(b"\n")) == 1 + len(manifest(tree)[1]) + 1 + 2 + 1 + 1
    assert current(tree)["objects"] == 2 and current(tree)["bytes"] == odd["size"] + plain["size"]


def test_a_blob_missing_from_the_store_publishes_nothing(services, library, tree) -> None:
    library.pdf()
    publish(services, root=tree)
    before = (tree / "CURRENT").read_bytes()
    data = b"%PDF-1.4 the file that goes missing"
    lost = library.file(data, "丢失的文件.pdf")
    services.blobs.delete(lost["sha256"])
    with pytest.raises(PublishError) as caught:
        publish(services, root=tree)
    assert lost["sha256"] in caught.value.message and "丢失的文件" in caught.value.message
    assert "CURRENT still names serial 1" in caught.value.message
    assert (tree / "CURRENT").read_bytes() == before and MirrorTree(tree).serials() == [1]
    assert list((tree / ".state" / "tmp").iterdir()) == [] and verify_tree(tree).ok
    staged = services.staging.new()   # the file is restored: the next run publishes it
    staged.write(data)
    services.blobs.add(staged)
    assert publish(services, root=tree).serial == 2 and lost["id"] in manifest(tree)[2]


def test_a_damaged_blob_is_refused(services, library, tree) -> None:
    view = library.pdf()
    damaged = b"%PDF-1.4 other bytes of another length"
    if services.settings.blobstore == "local":   # a blob rewritten behind the store's back
        path = services.blobs.local_path(view["sha256"])
        path.chmod(0o644)
        path.write_bytes(damaged)
    else:
        services.blobs.client.put_object(services.blobs.bucket, blob_key(view["sha256"]),
                                         io.BytesIO(damaged), len(damaged))
    with pytest.raises(PublishError, match="damaged"):
        publish(services, root=tree)
    assert not (tree / "CURRENT").exists() and not MirrorTree(tree).object_path(view["sha256"]).exists()


def test_one_publisher_at_a_time(services, library, tree) -> None:
    library.pdf()
    with publisher_lock(tree), pytest.raises(PublisherBusy):
        publish(services, root=tree)
    assert publish(services, root=tree).serial == 1


_CRASH = """
import os, signal, sys
from pathlib import Path
from repo_server.config import Settings
from repo_server.services import Services
from repo_server.sync import publish

def step(name):
    if name == sys.argv[1]:
        os.kill(os.getpid(), signal.SIGKILL)   # no cleanup, no finally: a power cut

publish(Services.open(Settings.from_env()), root=Path(sys.argv[2]), on_step=step)
"""


@LOCAL
@pytest.mark.parametrize("step", ["objects", "manifest", "delta"])
def test_a_publisher_killed_before_current_leaves_the_previous_serial_whole(
        services, library, tree, tmp_path, step) -> None:
    library.pdf()
    publish(services, root=tree)
    before = (tree / "CURRENT").read_bytes()
    added = library.pdf("新课.pdf")
    killed = subprocess.run([sys.executable, "-c", _CRASH, step, str(tree)], timeout=120,
                            env={**os.environ, **env_of(services.settings)}, capture_output=True)
    assert killed.returncode == -9, killed.stderr
    assert (tree / "CURRENT").read_bytes() == before and verify_tree(tree, deep=True).ok
    assert (tree / "manifests" / "2.json").exists() == (step != "objects")
    report = publish(services, root=tree)
    assert report.serial == (2 if step == "objects" else 3)   # a manifest file never changes
    assert added["id"] in manifest(tree)[2] and verify_tree(tree, deep=True).ok
    delta = tree / "manifests" / f"{report.serial}.delta.json"
    assert apply_delta(tree / "manifests" / "1.json", delta, tmp_path / "out.json").sha256 == current(tree)["sha256"]
    assert list((tree / ".state" / "tmp").iterdir()) == []


def test_objects_are_links_to_a_local_store_and_verified_copies_otherwise(services, library, tree) -> None:
    view = library.pdf()
    report = publish(services, root=tree)
    exported = MirrorTree(tree).object_path(view["sha256"])
    assert hashlib.sha256(exported.read_bytes()).hexdigest() == view["sha256"]
    assert oct(exported.stat().st_mode)[-3:] == "444"
    if services.settings.blobstore == "local":
        assert report.linked == 1 and report.copied == 0
        assert exported.stat().st_ino == services.blobs.local_path(view["sha256"]).stat().st_ino
    else:
        assert report.copied == 1 and report.linked == 0 and exported.stat().st_nlink == 1


@LOCAL
def test_a_tree_on_another_filesystem_gets_copies(services, library, tmp_path) -> None:
    import tempfile

    shm = Path(tempfile.mkdtemp(dir="/dev/shm"))
    try:
        assert shm.stat().st_dev != services.settings.blob_dir.stat().st_dev, \
            "this test needs /dev/shm on another filesystem than the temp dir"
        view = library.pdf()
        report = publish(services, root=shm / "mirror")
        assert (report.linked, report.copied) == (0, 1)
        assert MirrorTree(shm / "mirror").object_path(view["sha256"]).stat().st_nlink == 1
        assert verify_tree(shm / "mirror", deep=True).ok
    finally:
        subprocess.run(["rm", "-rf", str(shm)], check=True)


def test_current_names_the_chain_of_upstreams(services, library, tree) -> None:
    library.pdf()
    services.settings = replace(services.settings, mirror_name="某县电教站")
    (services.settings.data_dir / "sync").mkdir()
    (services.settings.data_dir / "sync" / "CURRENT").write_text(
        json.dumps({"serial": 41, "chain": [{"name": "某市电教馆", "serial": 41}]}))
    publish(services, root=tree)
    assert current(tree)["chain"] == [{"name": "某市电教馆", "serial": 41}, {"name": "某县电教站", "serial": 1}]


def test_a_tree_that_lost_its_state_is_rebuilt_in_full(services, library, tree) -> None:
    first = library.pdf()
    publish(services, root=tree)
    (tree / ".state" / "publisher.json").unlink()
    MirrorTree(tree).object_path(first["sha256"]).unlink()     # and an object went missing
    report = publish(services, root=tree)
    assert report.full and not report.published and report.exported == 1
    assert verify_tree(tree, deep=True).ok



def test_a_catalog_restored_to_an_older_sequence_gets_a_full_run(services, library, tree) -> None:
    library.pdf()
    publish(services, root=tree)
    state_path = tree / ".state" / "publisher.json"
    state = json.loads(state_path.read_text())
    state_path.write_text(json.dumps({**state, "seq": state["seq"] + 1000}))   # ahead of the catalog
    added = library.pdf("恢复后.pdf")
    report = publish(services, root=tree)
    assert report.full and report.serial == 2 and added["id"] in manifest(tree)[2]
