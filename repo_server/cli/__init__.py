"""The `repo-server` command: one click group (base.py), a module per subsystem.

Importing this package registers every command on the group.
"""

from __future__ import annotations

from . import importing, indexing, media, mirror, operations, people, vocabulary  # noqa: F401  (registers commands)
from .base import cli

__all__ = ["main", "cli"]


def main() -> None:
    cli(prog_name="repo-server")
