"""What a mirror keeps about its syncing, under `<data dir>/sync/`:

    CURRENT          the upstream CURRENT last applied — written LAST, by rename; its
                     presence makes the data dir a mirror (mirror mode), and a re-exporting
                     tier's publisher reads its chain from it
    manifest.json    the upstream manifest that CURRENT names (whole, unfiltered): the base
                     the next delta applies to, and what the next run compares with
    state.json       the selection (--only, --renditions, pages) that was applied
    referenced.txt   objects the last applied version uses; referenced.previous.txt those
                     of the version before (garbage collection keeps both)
    status.json      the last run's outcome (read by the admin page and reported upstream)
    trace.jsonl      one line per run
    staging/         objects being fetched (never the live tree); incoming/: CURRENT,
                     manifest, delta being fetched
    lock, rsync.pgid the one-run-per-data-dir lock, the process group of a running rsync
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from repo_server.durable import write_atomic

__all__ = ["SyncState", "STATUS_KEYS", "utc_now"]

STATUS_KEYS = ("name", "upstream", "serial", "upstream_serial", "result", "error", "last_success_at",
               "last_attempt_at", "bytes", "duration_s", "chain")


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class SyncState:
    root: Path      # <data dir>/sync

    @classmethod
    def of(cls, data_dir: Path) -> "SyncState":
        return cls(data_dir / "sync")

    def prepare(self) -> None:
        for directory in (self.root, self.staging, self.incoming):
            directory.mkdir(parents=True, exist_ok=True)

    # -- paths ---------------------------------------------------------------------------
    current = property(lambda self: self.root / "CURRENT")
    manifest = property(lambda self: self.root / "manifest.json")
    selection_file = property(lambda self: self.root / "state.json")
    referenced = property(lambda self: self.root / "referenced.txt")
    referenced_before = property(lambda self: self.root / "referenced.previous.txt")
    status_file = property(lambda self: self.root / "status.json")
    trace_file = property(lambda self: self.root / "trace.jsonl")
    staging = property(lambda self: self.root / "staging")
    incoming = property(lambda self: self.root / "incoming")
    lock_file = property(lambda self: self.root / "lock")
    pgid_file = property(lambda self: self.root / "rsync.pgid")

    # -- reading -------------------------------------------------------------------------
    def _json(self, path: Path) -> dict[str, Any] | None:
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def applied_current(self) -> dict[str, Any] | None:
        return self._json(self.current)

    def recorded(self) -> dict[str, Any]:
        """{"selection", "request"} of the applied version ({} before the first)."""
        return self._json(self.selection_file) or {}

    def status(self) -> dict[str, Any] | None:
        return self._json(self.status_file)

    def referenced_objects(self, *, previous: bool = False) -> set[str]:
        try:
            return set((self.referenced_before if previous else self.referenced).read_text().split())
        except OSError:
            return set()

    # -- writing -------------------------------------------------------------------------
    def commit(self, manifest: Path, current_bytes: bytes, recorded: dict[str, Any],
               referenced: set[str]) -> set[str]:
        """Record an applied version: manifest, what was selected ({"selection": resolved,
        "request": as asked}), references, and CURRENT last.
        Returns the references of the version before (kept one version longer)."""
        before = self.referenced_objects()
        os.replace(manifest, self.manifest)
        write_atomic(self.referenced_before, "\n".join(sorted(before)) + "\n")
        write_atomic(self.selection_file, json.dumps(recorded, sort_keys=True, ensure_ascii=False) + "\n")
        write_atomic(self.referenced, "\n".join(sorted(referenced)) + "\n")
        write_atomic(self.current, current_bytes)
        return before

    def write_status(self, status: dict[str, Any]) -> None:
        write_atomic(self.status_file, json.dumps({k: status.get(k) for k in STATUS_KEYS},
                                                   ensure_ascii=False, indent=1) + "\n")

    def append_trace(self, line: dict[str, Any]) -> None:
        with open(self.trace_file, "a", encoding="utf-8") as out:
            out.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
