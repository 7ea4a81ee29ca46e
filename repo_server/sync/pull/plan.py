"""What a sync must do: compare the applied manifest with the new one through the
selection, in one merge-join over both files (constant memory per line).

- `keep`: every selected resource id (a live local resource outside it becomes a tombstone);
- `changed`: the new lines of selected resources that are new or differ from what was
  applied (all of them when nothing was applied yet or the selection changed);
- `referenced`: every blob the selected resources use (original, chosen derivatives) —
  what garbage collection keeps;
- `needed`: objects to fetch: referenced blobs the local store lacks, and the texts of the
  changed resources (texts become catalog rows, not files) — not when the resource kept its
  file and its text (an edit of metadata: the catalog holds that text already).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from ..manifest import ABSENT, iter_entries, join_sorted, parse_line
from .selection import Selection

__all__ = ["Plan", "make_plan"]


@dataclass
class Plan:
    keep: set[str] = field(default_factory=set)
    changed: list[bytes] = field(default_factory=list)
    referenced: set[str] = field(default_factory=set)
    needed: dict[str, int] = field(default_factory=dict)     # sha256 → size
    texts: set[str] = field(default_factory=set)              # needed objects that are texts
    selected_bytes: int = 0

    @property
    def needed_bytes(self) -> int:
        return sum(self.needed.values())


def _selected(path: Path | None, selection: Selection) -> Iterator[tuple[str, bytes]]:
    if path is None:
        return
    for resource_id, line in iter_entries(path):
        if selection.matches(parse_line(line)):
            yield resource_id, line


def make_plan(old: Path | None, new: Path, selection: Selection, have: Callable[[str], bool]) -> Plan:
    """`old`: the applied manifest when its selection is this one, else None (all changed)."""
    plan = Plan()
    for resource_id, before, line in join_sorted(_selected(old, selection), _selected(new, selection)):
        if line is ABSENT:
            continue
        plan.keep.add(resource_id)
        changed = before is ABSENT or before != line
        entry = parse_line(line)
        same_text = None
        if changed:
            plan.changed.append(line)
            if before is not ABSENT:
                old = parse_line(before)
                if old["original"]["sha256"] == entry["original"]["sha256"]:
                    same_text = (old.get("text") or {}).get("sha256")
        for item in selection.objects(entry):
            sha256, size = item["sha256"], item["size"]
            if item["role"] == "text":
                if changed and sha256 != same_text:
                    plan.needed[sha256] = size
                    plan.texts.add(sha256)
                continue
            if sha256 not in plan.referenced:
                plan.referenced.add(sha256)
                plan.selected_bytes += size
                if not have(sha256):
                    plan.needed[sha256] = size
    return plan
