"""Index generations on disk, the pointer to the live one, and the one-writer rule.

    <root>/CURRENT                 name of the live generation (replaced atomically by rename)
    <root>/gen-<utc>-<rand>/       one complete index + repo-meta.json {seq, schema, engine, …} (tantivy owns meta.json)
    <root>/gen-…/writer.lock       flock()ed by the only process allowed to write there

A rebuild fills a new generation beside the live one and then switches CURRENT, so search
keeps answering from the old one until the new one is complete. Readers notice the switch on
their next search. The lock is an OS file lock: it disappears with the process that held it,
so a crashed writer never blocks the next one.
"""

from __future__ import annotations

import json
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repo_server.durable import write_atomic
from repo_server.locks import FileLock

from .engine import Engine
from .schema import SCHEMA_VERSION

__all__ = ["IndexStore", "Meta", "writer_lock"]


@dataclass
class Meta:
    """What a generation knows about itself: how far the change log has been applied."""

    seq: int = 0
    schema: int = SCHEMA_VERSION
    engine: str = ""
    created: float = 0.0
    updated: float = 0.0
    extra: dict[str, Any] | None = None


def writer_lock(generation: Path) -> FileLock | None:
    """The write lock of one generation, or None when another process writes there."""
    return FileLock.try_acquire(generation / "writer.lock")


class IndexStore:
    def __init__(self, root: Path, engine: Engine) -> None:
        self.root = root
        self.engine = engine

    @property
    def _pointer(self) -> Path:
        return self.root / "CURRENT"

    def current(self) -> Path | None:
        try:
            name = self._pointer.read_text().strip()
        except FileNotFoundError:
            return None
        path = self.root / name
        return path if name and path.is_dir() else None

    def create_generation(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        name = f"gen-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"
        path = self.root / name
        path.mkdir()
        self.engine.create(path)
        now = time.time()
        self.write_meta(path, Meta(engine=self.engine.name, created=now, updated=now))
        return path

    def ensure_current(self) -> Path:
        """The live generation, creating an empty one the first time."""
        current = self.current()
        if current is not None:
            return current
        generation = self.create_generation()
        self.publish(generation)
        return self.current() or generation

    def publish(self, generation: Path) -> None:
        """Make `generation` the live one, atomically and durably."""
        write_atomic(self._pointer, generation.name)

    @staticmethod
    def read_meta(generation: Path) -> Meta:
        try:
            data = json.loads((generation / "repo-meta.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return Meta()
        return Meta(**{k: v for k, v in data.items() if k in Meta.__dataclass_fields__})

    @staticmethod
    def write_meta(generation: Path, meta: Meta) -> None:
        write_atomic(generation / "repo-meta.json", json.dumps(meta.__dict__))

    def generations(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir() if p.is_dir() and p.name.startswith("gen-"))

    def prune(self, keep: int = 1) -> list[Path]:
        """Delete old generations no writer holds, keeping the live one and `keep` others.
        Readers that still have a deleted generation open keep working (POSIX unlink)."""
        live = self.current()
        others = [g for g in self.generations() if g != live]  # oldest first
        removed = []
        for generation in others[: max(len(others) - keep, 0)]:
            lock = writer_lock(generation)
            if lock is None:
                continue  # a rebuild in progress owns it
            try:
                shutil.rmtree(generation)
                removed.append(generation)
            finally:
                lock.release()
        return removed

    def size_bytes(self, generation: Path) -> int:
        return sum(p.stat().st_size for p in generation.rglob("*") if p.is_file())
