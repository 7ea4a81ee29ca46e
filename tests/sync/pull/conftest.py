"""Fixtures for the downstream sync: an upstream catalog that publishes a tree (the
`services` and `library` fixtures of tests/sync, narrowed to SQLite + the local store unless
a test asks otherwise), and school data dirs synced from it by the real scripts/repo-sync."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import select

from repo_server.catalog.models import Resource
from repo_server.config import Settings
from repo_server.services import Services

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "repo-sync"
FAST = ["--retries", "1", "--backoff", "0.2", "--stall-timeout", "4", "--io-timeout", "30"]


def sync_environ(data_dir: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment cron gives scripts/repo-sync: none of this test process's REPO_ settings."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("REPO_")}
    environ.update({"REPO_SECRET_KEY": "test-secret", "REPO_MIRROR_NAME": data_dir.name, **(env or {})})
    return environ


def repo_sync(data_dir: Path, upstream: str | Path | None, *args: str, env: dict[str, str] | None = None,
              timeout: float = 120, fast: bool = True) -> subprocess.CompletedProcess:
    """Run scripts/repo-sync as cron would (a fresh process, its own SQLite catalog)."""
    argv = [str(SCRIPT), *(["--upstream", str(upstream)] if upstream is not None else []),
            "--data-dir", str(data_dir), *(FAST if fast else []), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=sync_environ(data_dir, env))


def status(data_dir: Path) -> dict:
    return json.loads((data_dir / "sync" / "status.json").read_text())


def trace(data_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (data_dir / "sync" / "trace.jsonl").read_text().splitlines()]


class School:
    """A downstream data dir, opened read-only for assertions."""

    def __init__(self, data_dir: Path, search_engine: str = "whoosh") -> None:
        self.data_dir, self.search_engine = data_dir, search_engine
        self.services: Services | None = None

    @property
    def settings(self) -> Settings:
        return Settings(data_dir=self.data_dir, secret_key="test-secret", search_engine=self.search_engine)

    def open(self) -> Services:
        if self.services is None:
            self.services = Services.open(self.settings)
        return self.services

    def live(self) -> dict[str, Resource]:
        with self.open().catalog.read() as session:
            rows = session.scalars(select(Resource).where(Resource.deleted_at.is_(None))).unique().all()
            return {r.id: r for r in rows}

    def close(self) -> None:
        if self.services is not None:
            self.services.close()
            self.services = None


@pytest.fixture
def schools(tmp_path: Path) -> Iterator[callable]:
    opened: list[School] = []

    def make(name: str = "school", search_engine: str = "whoosh") -> School:
        school = School(tmp_path / name, search_engine)
        opened.append(school)
        return school
    yield make
    for school in opened:
        school.close()
