"""Fixtures for the mirror publisher: every catalog backend times every blob store.

`services` is overridden here so that each test runs on SQLite and PostgreSQL (the root
`settings` fixture) *and* on the local blob store and moto's S3 server (the root `moto_s3`
fixture); `world`, `stage` and the rest of the root fixtures build on it unchanged. A test
that only concerns the tree on disk narrows it with
`@pytest.mark.parametrize("services", ["local"], indirect=True)`.
"""

from __future__ import annotations

import json
import uuid
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

import pytest

from repo_server.config import Settings
from repo_server.locks import FileLock
from repo_server.services import Services
from repo_server.services.maintenance import initialise
from repo_server.services.resources import ingest
from repo_server.sync import MirrorTree, iter_entries, read_manifest_head

STORES = ["local", "s3"]


@pytest.fixture(params=STORES)
def services(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Services]:
    if request.param == "s3":
        s3 = request.getfixturevalue("moto_s3")
        settings = replace(settings, blobstore="minio", s3_endpoint=s3.endpoint, s3_access_key=s3.access_key,
                           s3_secret_key=s3.secret_key, s3_secure=s3.secure,
                           s3_bucket=f"mirror-{uuid.uuid4().hex[:16]}")
    svc = Services.open(settings)
    initialise(svc)
    yield svc
    svc.close()


def env_of(settings: Settings) -> dict[str, str]:
    """REPO_* variables that make a child process open the same catalog and blob store."""
    return {"REPO_DATA_DIR": str(settings.data_dir), "REPO_DATABASE_URL": settings.database_url,
            "REPO_BLOBSTORE": settings.blobstore, "REPO_S3_ENDPOINT": settings.s3_endpoint,
            "REPO_S3_ACCESS_KEY": settings.s3_access_key, "REPO_S3_SECRET_KEY": settings.s3_secret_key,
            "REPO_S3_BUCKET": settings.s3_bucket, "REPO_SECRET_KEY": "test-secret"}


class Library:
    """Adds resources the way editors do (services.resources.ingest), each with unique bytes."""

    def __init__(self, services: Services, world) -> None:
        self.services, self.world, self.count = services, world, 0

    def pdf(self, name: str = "第3课 勾股定理.pdf", **fields: Any) -> dict:
        self.count += 1
        return self.file(f"%PDF-1.4 lesson {self.count} {uuid.uuid4().hex}".encode(), name, **fields)

    def file(self, data: bytes, name: str, **fields: Any) -> dict:
        staged = self.services.staging.new()
        staged.write(data)
        return ingest(self.services, self.world.school_editor, staged, name,
                      {"subject": "数学", "grade": "八年级", **fields})


@pytest.fixture
def library(services: Services, world) -> Library:
    return Library(services, world)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return tmp_path / "mirror"


def manifest(root: Path, serial: int | None = None) -> tuple[dict, list[dict], dict[str, dict]]:
    """(header, vocabulary, id → entry) of the serial CURRENT names (or of `serial`), read
    with plain json as a downstream in another language would."""
    current = json.loads((root / "CURRENT").read_text())
    serial = serial or current["serial"]
    path = root / "manifests" / f"{serial}.json"
    document = json.loads(path.read_bytes())
    header, vocabulary = read_manifest_head(path)
    assert header == {"format": document["format"], "serial": document["serial"]} and vocabulary == document["vocabulary"]
    assert [i for i, _ in iter_entries(path)] == [e["id"] for e in document["resources"]]
    return header, vocabulary, {e["id"]: e for e in document["resources"]}


def current(root: Path) -> dict:
    return json.loads((root / "CURRENT").read_text())


@contextmanager
def publisher_lock(root: Path) -> Iterator[None]:
    """Hold the tree's publisher lock, as a running publish would."""
    MirrorTree(root).prepare()
    lock = FileLock.try_acquire(root / ".state" / "publish.lock")
    assert lock is not None
    try:
        yield
    finally:
        lock.release()
