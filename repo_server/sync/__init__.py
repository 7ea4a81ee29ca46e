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

from .delta import Delta, apply_delta, read_delta
from .gc import GcReport, collect_garbage
from .manifest import (ManifestError, ManifestRef, entry_objects, iter_entries, parse_line,
                       read_manifest_head)
from .publisher import PublishError, PublishReport, PublisherBusy, collect, publish
from .tree import Current, MirrorTree
from .verify import TreeReport, verify_tree

__all__ = [
    "publish", "collect", "PublishReport", "PublisherBusy", "PublishError",
    "MirrorTree", "Current", "ManifestError", "ManifestRef", "iter_entries", "read_manifest_head",
    "parse_line", "entry_objects", "Delta", "read_delta", "apply_delta",
    "GcReport", "collect_garbage", "TreeReport", "verify_tree",
]
