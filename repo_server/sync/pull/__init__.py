"""School mirrors, the downstream side: `scripts/repo-sync` fetches an upstream's tree and
applies it to this data dir's catalog (docs/mirrors.md, "The downstream").

    source.py     the three upstream forms (rsync daemon, ssh, local path) and their argv
    rsync.py      one rsync at a time: own process group, no-progress watchdog, messages → kind
    fetch.py      stage 1: files and objects into staging, retries with backoff, sha256 checks
    selection.py  the subscription (--only, --renditions, pages)
    plan.py       what changed, what is kept, what to fetch
    terms.py      vocabulary by (scheme, code), organisations by name path
    apply.py      stage 2: the catalog in the caller's one transaction, change log included
    state.py      <data dir>/sync/: CURRENT (last), manifest, status.json, trace.jsonl
    gc.py         local garbage collection one version late, with a max-delete guard
    report.py     POST the status to the upstream
    run.py        one run, start to end
    options.py    command line, config file, defaults
    errors.py     outcomes and exit codes (0, 75 retry, 78 configuration, 1 failed)

Below the services layer like the rest of repo_server.sync: the CLI wires the index catch-up.
"""

from .errors import EXIT_CODES, SyncFailure
from .options import SyncOptions, load_config, merge, read_secret
from .run import SyncOutcome, run_sync
from .selection import FIELDS, Selection, parse_only
from .source import Upstream, parse_upstream
from .state import STATUS_KEYS, SyncState

__all__ = ["run_sync", "SyncOptions", "SyncOutcome", "SyncFailure", "EXIT_CODES", "load_config", "merge",
           "read_secret", "Selection", "parse_only", "FIELDS", "Upstream", "parse_upstream", "SyncState",
           "STATUS_KEYS"]
