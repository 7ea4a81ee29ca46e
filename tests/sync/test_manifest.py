"""The manifest and delta formats on their own: layout, hostile text, streaming, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from repo_server.sync import ManifestError, ManifestRef, apply_delta, iter_entries, read_manifest_head
from repo_server.sync.delta import write_delta
from repo_server.sync.manifest import (ABSENT, LineWriter, entry_line, join_sorted, line_objects,
                                       write_manifest)

SHA = "ab" * 32
HOSTILE = '换行\n分隔\u2028段落\u2029 "引号" \\ 反斜杠 😀 ' + f'"sha256":"{"cd" * 32}","size":7'


def entry(resource_id: str, title: str = "标题", size: int = 3) -> dict:
    return {"id": resource_id, "title": title, "tags": ["乙", "甲"],
            "original": {"sha256": SHA, "size": size, "mime": "application/pdf"}}


def write(path: Path, serial: int, entries: list[dict], vocabulary: list[dict] = ()) -> ManifestRef:
    writer = LineWriter(path)
    write_manifest(writer, serial, vocabulary, (entry_line(e) for e in entries))
    return ManifestRef(serial, *writer.finish())


def test_an_entry_line_puts_the_id_first_and_sorts_the_rest() -> None:
    line = entry_line(entry("r1"))
    assert line.startswith(b'{"id":"r1","original":{"mime":')
    assert b" " not in line.replace("标题".encode(), b"") and "标题".encode() in line
    assert json.loads(line) == entry("r1")


def test_hostile_text_stays_on_its_line_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "1.json"
    entries = [entry("a", HOSTILE), entry("b")]
    write(path, 1, entries, [{"scheme": "stage", "name": HOSTILE}])
    document = json.loads(path.read_bytes())
    assert document["resources"] == entries and document["vocabulary"][0]["name"] == HOSTILE
    assert [i for i, _ in iter_entries(path)] == ["a", "b"]
    assert read_manifest_head(path) == ({"format": "repo-server-manifest/1", "serial": 1},
                                        [{"scheme": "stage", "name": HOSTILE}])
    # A title that looks like an object reference is not one: only the real original counts.
    assert line_objects(dict(iter_entries(path))["a"]) == [(SHA, 3)]


def test_an_empty_manifest_is_valid_json(tmp_path: Path) -> None:
    write(tmp_path / "1.json", 1, [])
    assert json.loads((tmp_path / "1.json").read_bytes())["resources"] == []
    assert list(iter_entries(tmp_path / "1.json")) == []


def test_join_sorted_is_a_full_outer_join() -> None:
    left = [("a", b"1"), ("c", b"3"), ("d", b"4")]
    right = [("b", "B"), ("c", "C"), ("e", "E")]
    assert list(join_sorted(left, right)) == [
        ("a", b"1", ABSENT), ("b", ABSENT, "B"), ("c", b"3", "C"), ("d", b"4", ABSENT), ("e", ABSENT, "E")]


def test_damaged_manifests_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "1.json"
    write(path, 1, [entry("a"), entry("b")])
    data = path.read_bytes()
    path.write_bytes(data[:-4])                                   # cut off
    with pytest.raises(ManifestError, match="cut off"):
        list(iter_entries(path))
    path.write_bytes(data.replace(b'"id":"b"', b'"id":"0"'))      # out of order
    with pytest.raises(ManifestError, match="out of order"):
        list(iter_entries(path))
    path.write_bytes(data.replace(b"repo-server-manifest/1", b"repo-server-manifest/9"))
    with pytest.raises(ManifestError, match="manifest/9"):
        read_manifest_head(path)


def _delta(path: Path, base: ManifestRef, target: ManifestRef, upserts: list[dict], removed: list[str]) -> None:
    writer = LineWriter(path)
    write_delta(writer, base=base, target=target, vocabulary=None, removed=removed,
                upserts=[entry_line(e) for e in upserts])
    writer.finish()


def test_a_delta_rebuilds_its_target_and_nothing_else(tmp_path: Path) -> None:
    vocabulary = [{"scheme": "stage", "code": "P", "name": "小学"}]
    base = write(tmp_path / "1.json", 1, [entry("a"), entry("b"), entry("c")], vocabulary)
    target_entries = [entry("a", "改"), entry("c"), entry("d")]
    target = write(tmp_path / "2.json", 2, target_entries, vocabulary)
    _delta(tmp_path / "2.delta.json", base, target, [entry("a", "改"), entry("d")], ["b"])
    assert apply_delta(tmp_path / "1.json", tmp_path / "2.delta.json", tmp_path / "out.json") == target
    assert (tmp_path / "out.json").read_bytes() == (tmp_path / "2.json").read_bytes()

    with pytest.raises(ManifestError, match="not the base"):     # applied to the wrong base
        apply_delta(tmp_path / "2.json", tmp_path / "2.delta.json", tmp_path / "wrong.json")
    _delta(tmp_path / "bad.delta.json", base, target, [entry("a", "篡改"), entry("d")], ["b"])
    with pytest.raises(ManifestError, match="not the target"):   # a delta that lies
        apply_delta(tmp_path / "1.json", tmp_path / "bad.delta.json", tmp_path / "bad.json")
    assert not (tmp_path / "bad.json").exists() and not (tmp_path / "wrong.json").exists()
