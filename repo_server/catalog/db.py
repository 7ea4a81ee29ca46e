"""The catalog database: engine set-up for SQLite (WAL) and PostgreSQL, and units of work.

SQLite notes: WAL lets readers run beside the one writer; `synchronous=FULL` because the
catalog is one of the two things that must never be lost; foreign keys are off by default
in SQLite and switched on here. Write transactions start with BEGIN IMMEDIATE: a deferred
transaction that reads and then writes fails at once with SQLITE_BUSY_SNAPSHOT when another
writer committed in between, whereas IMMEDIATE queues on busy_timeout like PostgreSQL does.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["Catalog"]

_IMMEDIATE = "repo_sqlite_immediate"


class Catalog:
    """Owns the engine and hands out sessions: `read()` for queries, `write()` for changes."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine = create_engine(url, echo=echo, connect_args={"timeout": 30})
            _configure_sqlite(self.engine)
        else:
            self.engine = create_engine(url, echo=echo, pool_pre_ping=True, pool_size=5,
                                        max_overflow=10)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for queries. Nothing is committed; objects stay readable afterwards
        (closing detaches them with their loaded state, a rollback would expire them)."""
        with self._sessions() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on any exception."""
        with self._sessions() as session:
            if self.is_sqlite:
                session.connection(execution_options={_IMMEDIATE: True})
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Take transaction control from pysqlite so BEGIN is ours (see module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON",
                       "busy_timeout=30000"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        immediate = connection.get_execution_options().get(_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
