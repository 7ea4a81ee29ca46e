"""Bringing a data directory up: create it, migrate the catalog, seed the vocabularies.

`initialise` is idempotent: run it after every upgrade; it never overwrites edits.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import make_url

from repo_server.catalog.migrate import current_revision, head_revision, upgrade
from repo_server.catalog.vocab import seed_vocabularies

from .context import Services
from .upload_sessions import sweep_expired

__all__ = ["initialise", "health"]


def initialise(svc: Services) -> dict:
    settings = svc.settings
    for directory in (settings.data_dir, settings.staging_dir):
        directory.mkdir(parents=True, exist_ok=True)
    if settings.blobstore == "local":
        settings.blob_dir.mkdir(parents=True, exist_ok=True)
    before = current_revision(svc.catalog.engine)
    upgrade(svc.catalog.engine)
    with svc.catalog.write() as session:
        added = seed_vocabularies(session, settings.vocab_seed)
    svc.secret_key()  # generated now, so several workers never race to create it
    swept = svc.staging.sweep() + sweep_expired(svc)  # crashed uploads; expired resumable ones
    return {"data_dir": str(settings.data_dir.resolve()), "catalog": _redacted(settings.catalog_url),
            "schema_before": before, "schema": head_revision(), "vocabulary_rows_added": added,
            "stale_uploads_removed": swept}


def _redacted(url: str) -> str:
    """The catalog URL without its password, for printing."""
    return make_url(url).render_as_string(hide_password=True)


def health(svc: Services) -> dict:
    """Can this instance serve? The catalog answers and the blob store is reachable."""
    checks: dict[str, str] = {}
    try:
        with svc.catalog.read() as session:
            session.execute(text("SELECT 1"))
        checks["catalog"] = "ok"
    except Exception as exc:  # report, never raise: this feeds /healthz
        checks["catalog"] = f"error: {type(exc).__name__}"
    try:
        svc.blobs.exists("0" * 64)
        checks["blobstore"] = "ok"
    except Exception as exc:
        checks["blobstore"] = f"error: {type(exc).__name__}"
    status = "ok" if all(v == "ok" for v in checks.values()) else "error"
    return {"status": status, **checks}
