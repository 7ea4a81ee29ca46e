"""Garbage collection of the mirror tree: the retention rule of DESIGN.md §4.

A manifest is kept while it is one of the last N serials (REPO_MIRROR_KEEP_SERIALS) *or*
younger than D days (REPO_MIRROR_KEEP_DAYS, by the file's modification time); CURRENT's
manifest is always kept. An object is deleted only when no kept manifest names it, so a
school that fetched an older CURRENT a while ago still finds every file it lists, and one
that is days behind can still apply its deltas.

Order matters for a crash in the middle: manifests (and deltas) go first, objects after,
so the tree never holds a manifest whose objects are gone. Must run under the publisher's
lock (publisher.py), never beside a publish that is exporting objects for its next serial.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from .manifest import line_objects
from ..durable import fsync_dir
from .tree import MirrorTree

__all__ = ["GcReport", "collect_garbage", "referenced_objects"]

_READ = 8 * 1024 * 1024


@dataclass
class GcReport:
    kept_serials: list[int] = field(default_factory=list)
    removed_serials: list[int] = field(default_factory=list)
    objects_kept: int = 0
    objects_removed: int = 0
    bytes_removed: int = 0


def referenced_objects(path: Path) -> set[str]:
    """Every object sha256 a manifest names, read in large pieces (no JSON parsing: see
    manifest.line_objects), so a million-item manifest takes seconds, not minutes."""
    found: set[str] = set()
    with open(path, "rb") as stream:
        tail = b""
        while chunk := stream.read(_READ):
            data = tail + chunk
            cut = data.rfind(b"\n") + 1
            found.update(sha for sha, _ in line_objects(data[:cut]))
            tail = data[cut:]
        found.update(sha for sha, _ in line_objects(tail))
    return found


def collect_garbage(tree: MirrorTree, *, keep_serials: int, keep_days: int,
                    now: float | None = None) -> GcReport:
    """Apply the retention rule; returns what was kept and removed."""
    if keep_serials < 1:
        raise ValueError("keep_serials must be at least 1")
    now = time.time() if now is None else now
    serials = tree.serials()
    current = tree.read_current()
    keep = set(serials[-keep_serials:])
    keep |= {s for s in serials if now - tree.manifest_path(s).stat().st_mtime < keep_days * 86400}
    if current is not None:
        keep.add(current.serial)
    report = GcReport(kept_serials=sorted(keep & set(serials)))
    referenced: set[str] = set()
    for serial in report.kept_serials:
        referenced |= referenced_objects(tree.manifest_path(serial))

    for serial in serials:
        if serial not in keep:
            tree.manifest_path(serial).unlink(missing_ok=True)
            tree.delta_path(serial).unlink(missing_ok=True)
            report.removed_serials.append(serial)
    for entry in tree.manifests.iterdir() if tree.manifests.is_dir() else ():
        stem = entry.name.split(".", 1)[0]
        if entry.name.endswith(".delta.json") and stem.isdigit() and int(stem) not in keep:
            entry.unlink(missing_ok=True)   # a delta whose manifest is gone
    if report.removed_serials:
        fsync_dir(tree.manifests)

    for sha256, path in tree.iter_objects():
        if sha256 in referenced:
            report.objects_kept += 1
            continue
        try:
            report.bytes_removed += path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            continue
        report.objects_removed += 1
    return report
