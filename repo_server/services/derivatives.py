"""Derivatives in the catalog: recording each one's state, storing the files a job made,
and what the API shows and serves.

A derivative's file is an ordinary blob (content-addressed, Range and ETag like originals),
stored and recorded in one transaction under the blob row's lock, the way uploads are: if
the commit fails, a blob this call created is deleted again. A `pages` derivative owns one
blob per page (DerivativePage rows); its own blob is the first page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from repo_server.blobstore import StagedFile
from repo_server.catalog.base import utcnow
from repo_server.catalog.blobs import claim_blob
from repo_server.catalog.models import Blob, Derivative, DerivativePage, Resource
from repo_server.errors import NotFound

from .actor import Actor
from .context import Services
from .downloads import DownloadTarget
from .permissions import require_view

__all__ = ["Output", "set_state", "drop_derivative", "store_output", "done_profiles", "derivative_views",
           "derivative_target", "derivative_meta"]

_EXTENSIONS = {"video/mp4": "mp4", "audio/mp4": "m4a", "image/jpeg": "jpg", "image/webp": "webp",
               "image/png": "png", "application/json": "json"}


@dataclass
class Output:
    """What a step made: a file (or several pages) with its type and the viewer's metadata."""
    path: Path | None
    mime: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    pages: list[Path] = field(default_factory=list)


def _row(session: Session, source_sha256: str, profile: str) -> Derivative:
    row = session.scalar(select(Derivative).where(Derivative.source_sha256 == source_sha256,
                                                  Derivative.profile == profile))
    if row is None:
        row = Derivative(source_sha256=source_sha256, profile=profile, meta={})
        session.add(row)
    return row


def set_state(svc: Services, source_sha256: str, profile: str, status: str, message: str = "") -> None:
    """queued, running, failed or cancelled (done comes with `store_output`)."""
    with svc.catalog.write() as session:
        row = _row(session, source_sha256, profile)
        row.status, row.message, row.updated_at = status, message[:2000], utcnow()


def drop_derivative(svc: Services, source_sha256: str, profile: str) -> None:
    """Forget a planned derivative that does not apply (an e-book without a cover)."""
    with svc.catalog.write() as session:
        session.execute(delete(Derivative).where(Derivative.source_sha256 == source_sha256,
                                                 Derivative.profile == profile))


def done_profiles(svc: Services, source_sha256: str) -> set[str]:
    with svc.catalog.read() as session:
        return set(session.scalars(select(Derivative.profile).where(
            Derivative.source_sha256 == source_sha256, Derivative.status == "done")))


def _stage(svc: Services, path: Path) -> StagedFile:
    with open(path, "rb") as stream:
        return svc.staging.receive(stream)


def _add_blob(svc: Services, session: Session, staged: StagedFile, mime: str, name: str,
              created: list[str]) -> str:
    sha256 = staged.finish()
    claim_blob(session, sha256, size=staged.size, mime=mime, filename=name)
    if svc.blobs.add(staged):
        created.append(sha256)
    return sha256


def store_output(svc: Services, source_sha256: str, profile: str, output: Output) -> None:
    """Store the file(s) of a finished step as blobs and mark the derivative done. Files are
    copied and hashed before the transaction, so the catalog is not held while a long
    rendition is read."""
    main = _stage(svc, output.path) if output.path is not None else None
    pages = [_stage(svc, page) for page in output.pages]
    created: list[str] = []
    try:
        with svc.catalog.write() as session:
            row = _row(session, source_sha256, profile)
            session.flush()
            meta, row.blob_sha256 = dict(output.meta), None
            if main is not None:
                meta["size"], meta["mime"] = main.size, output.mime
                row.blob_sha256 = _add_blob(svc, session, main, output.mime,
                                            f"{profile}{output.path.suffix}", created)
            for page in session.scalars(select(DerivativePage).where(DerivativePage.derivative_id == row.id)):
                session.delete(page)
            for number, staged in enumerate(pages, start=1):
                sha256 = _add_blob(svc, session, staged, output.mime,
                                   f"page-{number}{output.pages[number - 1].suffix}", created)
                session.add(DerivativePage(derivative_id=row.id, number=number, blob_sha256=sha256))
                meta["size"], meta["mime"] = meta.get("size", 0) + staged.size, output.mime
                row.blob_sha256 = row.blob_sha256 or sha256    # the first page stands for them all
            row.status, row.message, row.meta, row.updated_at = "done", "", meta, utcnow()
    except BaseException:
        for sha256 in created:  # nobody can depend on them: the transaction never committed
            svc.blobs.delete(sha256)
        raise
    finally:
        for staged in filter(None, [main, *pages]):
            staged.discard()     # no-op for the ones the store adopted


def derivative_views(session: Session, source_sha256: str) -> list[dict[str, Any]]:
    """The derivatives of a blob as the API shows them (the web layer adds URLs)."""
    rows = session.scalars(select(Derivative).where(Derivative.source_sha256 == source_sha256)
                           .order_by(Derivative.profile)).all()
    views = []
    for d in rows:
        meta = dict(d.meta or {})
        view = {"profile": d.profile, "status": d.status, "message": d.message,
                "sha256": d.blob_sha256, "size": meta.pop("size", None), "mime": meta.pop("mime", None),
                **meta}
        if d.profile == "pages" and d.status == "done":
            view["pages"] = session.scalar(select(DerivativePage.number).where(
                DerivativePage.derivative_id == d.id).order_by(DerivativePage.number.desc()).limit(1)) or 0
        views.append(view)
    return views


def derivative_meta(svc: Services, actor: Actor, resource_id: str, profile: str) -> dict[str, Any]:
    """The metadata of a finished derivative of a visible resource (storyboard grid …)."""
    with svc.catalog.read() as session:
        r = require_view(actor, session.get(Resource, resource_id),
                         public_access=svc.settings.public_access)
        d = _done(session, r.blob_sha256, profile)
        return dict(d.meta or {})


def _done(session: Session, source_sha256: str, profile: str) -> Derivative:
    d = session.scalar(select(Derivative).where(Derivative.source_sha256 == source_sha256,
                                                Derivative.profile == profile,
                                                Derivative.status == "done"))
    if d is None:
        raise NotFound(f"this resource has no {profile} (yet)", reason="no_derivative")
    return d


def derivative_target(svc: Services, actor: Actor, resource_id: str, profile: str,
                      page: int | None = None) -> DownloadTarget:
    """A derivative's file (or one page image) of a resource the actor may see: the same
    permission check as the original, NotFound when it is not made (yet)."""
    with svc.catalog.read() as session:
        r = require_view(actor, session.get(Resource, resource_id),
                         public_access=svc.settings.public_access)
        d = _done(session, r.blob_sha256, profile)
        sha256 = d.blob_sha256
        if page is not None:
            sha256 = session.scalar(select(DerivativePage.blob_sha256).where(
                DerivativePage.derivative_id == d.id, DerivativePage.number == page))
        if sha256 is None:
            raise NotFound(f"no page {page}" if page is not None else f"this {profile} has no file", reason="no_derivative")
        blob = session.get(Blob, sha256)
        stem = r.filename.rsplit(".", 1)[0] if "." in r.filename else r.filename
        suffix = f"-{page}" if page is not None else ""
        extension = _EXTENSIONS.get(blob.mime, "bin")
        return DownloadTarget(resource_id=r.id, sha256=sha256, size=blob.size, mime=blob.mime,
                              filename=f"{stem}-{profile}{suffix}.{extension}", active=False,
                              last_modified=blob.created_at, profile=profile)
