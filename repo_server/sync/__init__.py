"""School mirrors, the publishing side: the exported tree that downstream mirrors sync from.

    objects/ab/cd/<sha256>     blobs and extracted texts, immutable (tree.py)
    manifests/<serial>.json    every mirrored resource, deterministic (manifest.py, entries.py)
    manifests/<serial>.delta.json   what changed since the serial before (delta.py)
    CURRENT                    the published serial: written last, by rename (tree.py)

`publish` (publisher.py) feeds the tree from the change log; `collect_garbage` (gc.py)
applies the retention rule; `verify_tree` (verify.py) checks what CURRENT promises;
rsyncd.py writes the rsync daemon's configuration and keeps the schools' accounts.
Below the services layer: nothing here knows Flask, the search index or the job queue.
docs/mirrors.md describes the formats and the contract with downstream mirrors.
"""

from __future__ import annotations

import importlib
from typing import Any

# Names are imported on first use (PEP 562): scripts/repo-sync imports repo_server.sync.pull
# and must not pay for the publisher's catalog imports when a run ends "up to date".
_WHERE = {
    "Delta": "delta", "apply_delta": "delta", "read_delta": "delta",
    "GcReport": "gc", "collect_garbage": "gc",
    "ManifestError": "manifest", "ManifestRef": "manifest", "entry_objects": "manifest", "iter_entries": "manifest",
    "parse_line": "manifest", "read_manifest_head": "manifest",
    "PublishError": "publisher", "PublishReport": "publisher", "PublisherBusy": "publisher", "collect": "publisher",
    "publish": "publisher",
    "Current": "tree", "MirrorTree": "tree",
    "TreeReport": "verify", "verify_tree": "verify",
}

__all__ = [
    "publish", "collect", "PublishReport", "PublisherBusy", "PublishError",
    "MirrorTree", "Current", "ManifestError", "ManifestRef", "iter_entries", "read_manifest_head",
    "parse_line", "entry_objects", "Delta", "read_delta", "apply_delta",
    "GcReport", "collect_garbage", "TreeReport", "verify_tree",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
