"""School mirrors, the downstream side: `scripts/repo-sync` fetches an upstream's tree and
applies it to this data dir's catalog (docs/mirrors.md, "The downstream").

    source.py     the three upstream forms (rsync daemon, ssh, local path) and their argv
    rsync.py      one rsync at a time: own process group, no-progress watchdog, messages → kind
    fetch.py      stage 1: files and objects into staging, retries with backoff, sha256 checks
    selection.py  the subscription (--only, --renditions, pages)
    plan.py       what changed, what is kept, what to fetch
    terms.py      vocabulary by (scheme, code), organisations by name path
    apply.py      stage 2: the catalog in the caller's one transaction, change log included
    overlap.py    a first sync's stage 2 in a thread, while stage 1 still transfers
    state.py      <data dir>/sync/: CURRENT (last), manifest, status.json, trace.jsonl
    gc.py         local garbage collection one version late, with a max-delete guard
    report.py     POST the status to the upstream
    run.py        one run, start to end
    options.py    command line, config file, defaults
    errors.py     outcomes and exit codes (0, 75 retry, 78 configuration, 1 failed)

Below the services layer like the rest of repo_server.sync: the CLI wires the index catch-up
and a first sync's index build.
"""

from __future__ import annotations

import importlib
from typing import Any

# Imported on first use (PEP 562): a run that ends "up to date" never loads the catalog.
_WHERE = {
    "EXIT_CODES": "errors", "SyncFailure": "errors",
    "SyncOptions": "options", "load_config": "options", "merge": "options", "read_secret": "options",
    "SyncOutcome": "run", "run_sync": "run",
    "FIELDS": "selection", "Selection": "selection", "parse_only": "selection",
    "Upstream": "source", "parse_upstream": "source",
    "STATUS_KEYS": "state", "SyncState": "state",
}

__all__ = ["run_sync", "SyncOptions", "SyncOutcome", "SyncFailure", "EXIT_CODES", "load_config", "merge",
           "read_secret", "Selection", "parse_only", "FIELDS", "Upstream", "parse_upstream", "SyncState",
           "STATUS_KEYS"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
