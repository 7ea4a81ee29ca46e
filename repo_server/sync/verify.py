"""`repo-server mirror verify`: is the published tree what a downstream will trust?

Checks what CURRENT promises: its manifest is there with the sha256 and size it names, so
is its delta, and every object the manifest lists is in `objects/` with its size (with
`deep`, also with its sha256: reads everything). Reports problems, repairs nothing:
`repo-server mirror publish --full` re-exports missing objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .manifest import ManifestError, file_sha256, iter_entries, line_objects
from .tree import MirrorTree

__all__ = ["TreeReport", "verify_tree"]


@dataclass
class TreeReport:
    serial: int | None = None
    resources: int = 0
    objects: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.serial is not None and not self.problems


def _file_matches(path: Path, sha256: str, size: int) -> str | None:
    if not path.is_file():
        return f"{path.name} is missing"
    if (sha256, size) != file_sha256(path):
        return f"{path.name} does not hash to the sha256 CURRENT names"
    return None


def verify_tree(root: Path, *, deep: bool = False, limit: int = 100) -> TreeReport:
    """Check the tree at `root`; at most `limit` problems are listed."""
    tree, report = MirrorTree(root), TreeReport()
    try:
        current = tree.read_current()
    except ManifestError as exc:
        report.problems.append(exc.message)
        return report
    if current is None:
        report.problems.append(f"{tree.current_path} does not exist: nothing published yet")
        return report
    report.serial = current.serial
    manifest = root / current.manifest
    problem = _file_matches(manifest, current.sha256, current.size)
    if current.delta and problem is None:
        problem = _file_matches(root / current.delta["path"], current.delta["sha256"], current.delta["size"])
    if problem:
        report.problems.append(problem)
        return report
    seen: set[str] = set()
    for _, line in iter_entries(manifest):
        report.resources += 1
        for sha256, size in line_objects(line):
            if sha256 in seen:
                continue
            seen.add(sha256)
            path = tree.object_path(sha256)
            if not path.is_file() or path.stat().st_size != size:
                report.problems.append(f"object {sha256} ({size} bytes) is missing or has another size")
            elif deep and file_sha256(path)[0] != sha256:
                report.problems.append(f"object {sha256} is corrupt")
            if len(report.problems) >= limit:
                return report
    report.objects = len(seen)
    return report
