"""The `repo-server` command: one click group (base.py), a module per subsystem.

`cli` (and `main`) register every command on the group when first used. The package itself
imports nothing heavy, so `python -m repo_server.cli.repo_sync` (scripts/repo-sync) does not
load the web application and every subsystem to find a mirror up to date.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["main", "cli"]

_COMMANDS = ("backups", "doctor", "importing", "indexing", "media", "mirror", "operations", "people", "vocabulary")


def _group() -> Any:
    for name in _COMMANDS:                   # registers the commands
        importlib.import_module(f".{name}", __name__)
    return importlib.import_module(".base", __name__).cli


def __getattr__(name: str) -> Any:
    if name == "cli":
        return _group()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    _group()(prog_name="repo-server")
