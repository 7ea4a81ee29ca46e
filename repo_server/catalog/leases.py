"""Leases: work that one process of a whole installation does at a time, whatever machine.

Some background work belongs to the catalog, not to a machine. The text extractor stores
one text per blob: two app nodes sharing a PostgreSQL catalog and each electing their own
extractor would parse every new PDF twice and announce it twice in the change log. A lease
elects the one process that does such work, among every process using the same catalog:

- **PostgreSQL** (several app nodes may share it): a session-level advisory lock
  (`pg_try_advisory_lock`) taken on a connection of its own, kept out of the connection
  pool for as long as the lease is held. PostgreSQL drops the lock when that session ends:
  on release, when the holding process dies (the server sees its socket close), and when
  the holder's host vanishes (server-side TCP keepalives, set on the session, end it after
  about a minute). Advisory locks belong to one database, so two installations sharing a
  PostgreSQL server never elect each other.
- **SQLite** (one machine by definition): an `flock` on `locks/<name>.lock` beside the
  catalog file, which dies with its process too.

A holder asks `held()` before each piece of work: after its session was lost another
process may hold the lease, and the old holder must stop and try again.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from repo_server.locks import FileLock

from .db import Catalog

__all__ = ["Lease", "PostgresLease", "FileLease", "try_lease", "lease_key"]

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
# How fast PostgreSQL notices a holder whose host disappeared without closing its socket:
# idle 30 s, then 3 probes 10 s apart.
_KEEPALIVES = {"tcp_keepalives_idle": 30, "tcp_keepalives_interval": 10, "tcp_keepalives_count": 3}


class Lease(Protocol):
    name: str

    def held(self) -> bool:
        """Still ours? False once the lease was lost (then release it and try again)."""

    def release(self) -> None:
        """Give the lease up (idempotent); another process may take it at once."""


def lease_key(name: str) -> int:
    """The signed 64-bit advisory lock key of a lease name (stable across versions)."""
    digest = hashlib.sha256(f"repo-server lease {name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgresLease:
    """A lease held as a session-level advisory lock on a dedicated connection."""

    def __init__(self, name: str, key: int, connection: Connection) -> None:
        self.name, self.key = name, key
        self._connection: Connection | None = connection

    @classmethod
    def try_acquire(cls, engine: Engine, name: str) -> "PostgresLease | None":
        key = lease_key(name)
        connection = engine.connect()
        try:
            connection.execution_options(isolation_level="AUTOCOMMIT")  # never idle in a transaction
            # Out of the pool: closing this connection really ends the session (and so the
            # lock); a pooled one would go back to the pool still holding it.
            connection.detach()
            for setting, value in _KEEPALIVES.items():
                connection.execute(text(f"SET {setting} = {int(value)}"))
            connection.execute(text("SELECT set_config('application_name', :label, false)"),
                               {"label": f"repo-server lease {name}"[:63]})
            if connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar():
                return cls(name, key, connection)
        except BaseException:
            connection.close()
            raise
        connection.close()
        return None

    def held(self) -> bool:
        if self._connection is None:
            return False
        try:
            # A session-level advisory lock leaves only by unlock or with its session, so a
            # live session means the lock is still ours.
            self._connection.execute(text("SELECT 1"))
            return True
        except Exception as exc:  # the session is gone: so is the lock
            log.warning("lease %s: its catalog connection was lost (%s)", self.name,
                        str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
            self._close()
            return False

    def release(self) -> None:
        if self._connection is None:
            return
        try:
            self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
        except Exception:  # noqa: BLE001 - a lost session has released the lock already
            pass
        self._close()

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass


class FileLease:
    """A lease held as an flock next to a SQLite catalog (one machine)."""

    def __init__(self, name: str, lock: FileLock) -> None:
        self.name = name
        self._lock: FileLock | None = lock

    @classmethod
    def try_acquire(cls, catalog_file: Path, name: str) -> "FileLease | None":
        lock = FileLock.try_acquire(catalog_file.parent / "locks" / f"{name}.lock")
        return cls(name, lock) if lock is not None else None

    def held(self) -> bool:
        return self._lock is not None   # an flock is only lost with its process

    def release(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()


def try_lease(catalog: Catalog, name: str) -> Lease | None:
    """The lease `name` for this process, or None while another process holds it.
    Names are short lowercase words with hyphens ("extract-texts")."""
    if not _NAME.match(name):
        raise ValueError(f"a lease name is lowercase letters, digits and hyphens (got {name!r})")
    if catalog.is_sqlite:
        database = catalog.engine.url.database
        if not database or database == ":memory:":
            raise ValueError("leases need a SQLite catalog in a file (an in-memory one has no "
                             "other process to elect against)")
        return FileLease.try_acquire(Path(database).resolve(), name)
    return PostgresLease.try_acquire(catalog.engine, name)
