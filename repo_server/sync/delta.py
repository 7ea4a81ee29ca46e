"""Deltas: what changed from one published serial to the next, and applying one.

A delta sits beside its target manifest as `manifests/<serial>.delta.json`, in the same
line layout (manifest.py):

    {"base":{"serial":2,"sha256":"…","size":…},"format":"repo-server-delta/1","removed":["id",…],"target":{"serial":3,"sha256":"…","size":…},"vocabulary":null,"upserts":[
    {"id":"…",…},
    {"id":"…",…}
    ]}

`upserts` are the target's lines of every resource that is new or changed, byte for byte;
`removed` the ids that left (withdrawn, made private, back to draft); `vocabulary` the whole
new vocabulary when it changed, else null. Applying it to the base (`apply_delta`) gives the
target manifest exactly, which the target's sha256 proves: a downstream that holds the base
fetches a few KB instead of the whole manifest, and can never end up with something else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from .manifest import (ABSENT, LineWriter, ManifestError, ManifestRef, dumps, file_sha256, iter_entries,
                       join_sorted, read_head, read_manifest_head, strip_item, write_manifest)

__all__ = ["DELTA_FORMAT", "Delta", "write_delta", "read_delta", "apply_delta", "overlay"]

DELTA_FORMAT = "repo-server-delta/1"
_UPSERTS_OPEN = ',"upserts":['
_END = b"]}"


@dataclass(frozen=True)
class Delta:
    base: ManifestRef
    target: ManifestRef
    vocabulary: list[dict[str, Any]] | None
    removed: list[str]
    upserts: dict[str, bytes]   # id → the target's line


def write_delta(writer: LineWriter, *, base: ManifestRef, target: ManifestRef,
                vocabulary: list[dict[str, Any]] | None, removed: list[str],
                upserts: Iterable[bytes]) -> None:
    head = dumps({"format": DELTA_FORMAT, "base": base.as_dict(), "target": target.as_dict(),
                  "vocabulary": vocabulary, "removed": sorted(removed)})
    writer.open_list((head[:-1] + _UPSERTS_OPEN).encode())
    for line in upserts:
        writer.item(line)
    writer.close_list(_END + b"\n")


def _ref(value: Any, name: str) -> ManifestRef:
    try:
        return ManifestRef(int(value["serial"]), str(value["sha256"]), int(value["size"]))
    except (KeyError, TypeError, ValueError):
        raise ManifestError(f"the delta's {name} is malformed") from None


def read_delta(path: Path) -> Delta:
    """A delta file, upserts included (a delta is meant to be small)."""
    with open(path, "rb") as stream:
        head = read_head(stream, path.name, _UPSERTS_OPEN, DELTA_FORMAT)
        upserts: dict[str, bytes] = {}
        for raw in stream:
            line = strip_item(raw)
            if line == _END:
                break
            upserts[json.loads(line)["id"]] = line
        else:
            raise ManifestError(f"{path.name} is cut off (no closing line)")
    return Delta(base=_ref(head.get("base"), "base"), target=_ref(head.get("target"), "target"),
                 vocabulary=head.get("vocabulary"), removed=list(head.get("removed") or []),
                 upserts=upserts)


def overlay(base: Iterable[tuple[str, bytes]], delta: Delta) -> Iterator[bytes]:
    """The target's resource lines: the base's, with the delta's removals and upserts."""
    changes: dict[str, bytes | None] = dict.fromkeys(delta.removed)
    changes.update(delta.upserts)
    for _, old, new in join_sorted(base, sorted(changes.items())):
        line = old if new is ABSENT else new
        if line is not None:
            yield line


def apply_delta(base_path: Path, delta_path: Path, out_path: Path) -> ManifestRef:
    """Write the target manifest from the base manifest and a delta, and prove it: the base
    must be the delta's base and the result must hash to the delta's target, else
    ManifestError (and `out_path` is removed)."""
    delta = read_delta(delta_path)
    sha256, size = file_sha256(base_path)
    if (sha256, size) != (delta.base.sha256, delta.base.size):
        raise ManifestError(f"{base_path.name} is not the base of {delta_path.name} "
                            f"(serial {delta.base.serial})")
    _, vocabulary = read_manifest_head(base_path)
    writer = LineWriter(out_path)
    try:
        write_manifest(writer, delta.target.serial,
                       delta.vocabulary if delta.vocabulary is not None else vocabulary,
                       overlay(iter_entries(base_path), delta))
        result = ManifestRef(delta.target.serial, *writer.finish())
    except BaseException:
        writer.abort()
        raise
    if result != delta.target:
        out_path.unlink(missing_ok=True)
        raise ManifestError(f"applying {delta_path.name} gave {result.sha256[:12]}…, not the "
                            f"target {delta.target.sha256[:12]}…")
    return result
