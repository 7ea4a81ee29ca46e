"""The settings of one mirror's sync: command line over the config file over defaults.

The config file (`<data dir>/sync.toml`, or `--config PATH`) holds what a network
administrator sets once per school:

    upstream = "rsync://yixiao-0301@county.example:873/repo"
    password_file = "/etc/repo-sync/password"
    only = ["stage=小学", "subject=数学", "subject=语文"]
    renditions = ["360p"]
    pages = true
    bwlimit = 2500                 # KB/s
    report_url = "https://county.example/api/v1/mirrors/report"
    token_file = "/etc/repo-sync/token"

Command-line options win; a `--only` on the command line replaces the file's list.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .errors import SyncFailure
from .selection import parse_only

__all__ = ["SyncOptions", "load_config", "merge", "read_secret"]


@dataclass(frozen=True)
class SyncOptions:
    upstream: str
    data_dir: Path
    only: dict[str, list[str]] = field(default_factory=dict)
    renditions: tuple[str, ...] | None = None
    pages: bool = True
    bwlimit: int | None = None           # KB/s
    password_file: Path | None = None
    name: str = ""                       # this tier's name in the chain (default REPO_MIRROR_NAME / host)
    stall_s: float = 120.0               # the no-progress watchdog
    io_timeout_s: int = 600              # rsync --timeout (it does not catch a stalled connection)
    connect_timeout_s: int = 30
    run_timeout_s: float = 6 * 3600.0    # one rsync call, at most
    retries: int = 3
    backoff_s: float = 15.0
    batch: int = 1000                    # objects per rsync call
    max_delete_percent: float = 20.0
    force: bool = False
    rsync: str = "rsync"
    ssh: str = "ssh"
    report_url: str = ""
    token: str = ""

    def request(self) -> dict[str, Any]:
        """What the operator asked to mirror, as recorded with the applied version."""
        return {"only": {k: sorted(v) for k, v in sorted(self.only.items())},
                "renditions": sorted(self.renditions) if self.renditions is not None else None,
                "pages": self.pages}


_KEYS = {f.name for f in fields(SyncOptions)} | {"token_file"}


def load_config(path: Path, *, required: bool) -> dict[str, Any]:
    """The config file's values as SyncOptions fields ({} when absent and not required)."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if required:
            raise SyncFailure("config", f"config file {path} does not exist") from None
        return {}
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SyncFailure("config", f"config file {path}: {exc}") from None
    unknown = sorted(set(raw) - _KEYS - {"stall_timeout", "only"})
    if unknown:
        raise SyncFailure("config", f"config file {path}: unknown keys {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "only":
            items = value if isinstance(value, list) else [f"{k}={v}" for k, vs in dict(value).items()
                                                           for v in (vs if isinstance(vs, list) else [vs])]
            values["only"] = parse_only(str(i) for i in items)
        elif key == "renditions":
            values["renditions"] = tuple(str(v) for v in value)
        elif key in ("password_file",):
            values[key] = Path(value)
        elif key == "token_file":
            values["token"] = read_secret(Path(value))
        elif key == "stall_timeout":
            values["stall_s"] = float(value)
        else:
            values[key] = value
    return values


def read_secret(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SyncFailure("config", f"cannot read {path}: {exc.strerror}") from None


def merge(base: SyncOptions, overrides: dict[str, Any]) -> SyncOptions:
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})
