"""The wiring every use-case needs: settings, catalog, blob store, staging area.

Built once per process by `create_app` or the CLI (`Services.open`), never at import.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from repo_server.blobstore import BlobStore, Staging, open_blobstore
from repo_server.catalog import Catalog
from repo_server.catalog.migrate import current_revision, head_revision
from repo_server.config import Settings
from repo_server.errors import ConfigError

__all__ = ["Services"]


@dataclass
class Services:
    settings: Settings
    catalog: Catalog
    blobs: BlobStore
    staging: Staging
    # Per-process objects built on first use (search index, analyzer …): see search_tools.py.
    cache: dict = field(default_factory=dict, repr=False)
    # Hands media job ids to the job queue after their commit (set by the app, the CLI and
    # the worker: repo_server/tasks.py); None where no queue is wired, e.g. some tests.
    enqueue: Callable[[list[int]], None] | None = field(default=None, repr=False)

    @classmethod
    def open(cls, settings: Settings) -> "Services":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return cls(settings=settings, catalog=Catalog(settings.catalog_url),
                   blobs=open_blobstore(settings), staging=Staging(settings.staging_dir))

    def require_current_schema(self) -> None:
        """Refuse to serve a catalog that `repo-server init` has not brought up to date."""
        current, head = current_revision(self.catalog.engine), head_revision()
        if current != head:
            raise ConfigError(
                f"the catalog at {self.settings.catalog_url} is at schema {current or 'none'}, "
                f"this version needs {head}: run `repo-server init`")

    def secret_key(self) -> str:
        """REPO_SECRET_KEY, or a key generated once and kept in the data dir (mode 0600)."""
        if self.settings.secret_key:
            return self.settings.secret_key
        path: Path = self.settings.data_dir / "secret_key"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    def close(self) -> None:
        index = self.cache.pop("search_index", None)
        if index is not None:
            index.close()
        self.catalog.dispose()
