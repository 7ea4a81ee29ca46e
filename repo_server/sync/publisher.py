"""`repo-server mirror publish` and `mirror gc`: one writer per tree, whatever runs it.

Both take an exclusive lock on <tree>/.state/publish.lock (an flock: it dies with its
process, so a killed publisher never blocks the next one) and clear the temp files a
killed run left. `publish` then runs one Build (build.py): the next serial when the
mirrored content changed, nothing otherwise; garbage collection (gc.py) follows a new
serial at most once an hour, or when asked.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from repo_server.errors import RepoError
from repo_server.locks import FileLock

from .build import Build, PublishError, PublishReport, Wiring
from .gc import GcReport, collect_garbage
from .tree import MirrorTree

__all__ = ["publish", "collect", "PublisherBusy", "PublishError", "PublishReport", "Wiring"]


class PublisherBusy(RepoError):
    """Another publish (or garbage collection) holds the tree: try again later."""

    code = "publisher_busy"


@contextmanager
def _locked(wiring: Wiring, root: Path | None) -> Iterator[MirrorTree]:
    tree = MirrorTree(root or wiring.settings.mirror_dir)
    tree.prepare()
    lock = FileLock.try_acquire(tree.state_dir / "publish.lock")
    if lock is None:
        raise PublisherBusy(f"another publish or gc is running on {tree.root}; try again later")
    try:
        tree.clear_tmp()   # what a killed run left; nobody else writes here under the lock
        try:
            yield tree
        finally:
            tree.clear_tmp()
    finally:
        lock.release()


def publish(wiring: Wiring, *, root: Path | None = None, full: bool = False, gc: bool | None = None,
            on_step: Callable[[str], None] | None = None) -> PublishReport:
    """Publish the next serial into the tree at `root` (default <data dir>/mirror) if the
    mirrored content changed. `full` recomputes every resource and re-checks every object
    (the nightly reconciliation). `gc`: True forces garbage collection after a new serial,
    False skips it, None runs it when due. `on_step(name)` is called after "objects",
    "manifest", "delta" and "current" (progress; tests stop the process there)."""
    with _locked(wiring, root) as tree:
        return Build(wiring, tree, on_step or (lambda step: None)).run(full=full, gc=gc)


def collect(wiring: Wiring, *, root: Path | None = None) -> GcReport:
    """Garbage-collect the tree now, with the configured retention."""
    with _locked(wiring, root) as tree:
        return collect_garbage(tree, keep_serials=wiring.settings.mirror_keep_serials,
                               keep_days=wiring.settings.mirror_keep_days)
