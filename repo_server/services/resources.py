"""Resource use-cases: ingest a file with its metadata, read, list, change, delete.

Ingest order (docs/architecture.md, "Ingest"): the bytes are already staged and hashed;
the file is checked (type policy) and the metadata validated before anything is stored;
then, in one transaction, the blob row is claimed under a lock, duplicates are checked
under that lock, the blob enters the store, the resource and its change-log row are
inserted, with the media job that will make its previews (docs/media.md), and committed;
the job is handed to the queue after the commit. If anything fails after a new blob was stored, the blob is deleted
before the lock is released, so a failed ingest leaves no row and no blob.

Duplicates: the same bytes are stored once. Uploading bytes that a live resource already
has is refused with `Duplicate` (naming that resource) unless the caller passes
`allow_duplicate=True`, which files the same content a second time with its own metadata
(the same courseware under two lessons) while still storing the bytes once.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any, Mapping

from sqlalchemy import func, select

from repo_server.blobstore import StagedFile
from repo_server.catalog.base import utcnow
from repo_server.catalog.blobs import claim_blob
from repo_server.catalog.changes import record_change
from repo_server.catalog.models import Organisation, Resource, ResourceTag
from repo_server.catalog.vocab import VocabIndex
from repo_server.errors import Duplicate, InvalidInput, PermissionDenied
from repo_server.ingest import check_acceptable, clean_filename

from .actor import Actor
from .context import Services
from .media_jobs import hand_over, queue_media
from .fields import VOCAB_FIELDS, parse_metadata
from .permissions import (can_edit, can_view, editable_clause, require_edit, require_uploader, require_view,
                          visible_clause)
from .views import resource_view

__all__ = ["ingest", "get_resource", "list_resources", "update_resource", "delete_resource", "may_edit",
           "bulk_update", "editable_resources", "MAX_BULK"]

_DEFAULTS = {"language": "zh-CN", "visibility": "public", "status": "published"}
_TEXT_FIELDS = ("title", "description", "creator", "publisher", "language", "license", "date",
                "chapter", "lesson", "visibility", "status")


def ingest(svc: Services, actor: Actor, staged: StagedFile, filename: str | None,
           metadata: Mapping[str, Any], *, allow_duplicate: bool = False,
           org_id: int | None = None, vocab: VocabIndex | None = None) -> dict[str, Any]:
    """Store an uploaded file as a new resource; return its view. Consumes `staged`.

    `vocab` lets a caller that ingests many files (bulk import) resolve against one
    vocabulary snapshot instead of loading it for every file.
    """
    try:
        require_uploader(actor)
        name = clean_filename(filename)
        sha256 = staged.finish()
        sniffed = check_acceptable(staged.head, staged.size, name, staged.path)
        with svc.catalog.write() as session:
            fields = parse_metadata(metadata, vocab or VocabIndex.load(session))
            owner_org = _owning_org(session, actor, org_id)
            claim_blob(session, sha256, size=staged.size, mime=sniffed.mime, filename=name)
            if not allow_duplicate:
                _refuse_duplicate(session, actor, sha256, svc.settings.public_access)
            created = svc.blobs.add(staged)
            try:
                resource = Resource(blob_sha256=sha256, filename=name, format=sniffed.family,
                                    owner_id=actor.user_id, org_id=owner_org)
                _apply(resource, {**_DEFAULTS, **fields}, name)
                session.add(resource)
                session.flush()
                record_change(session, resource.id, "create", actor.user_id)
                job_id = queue_media(session, sha256, family=sniffed.family, mime=sniffed.mime,
                                     filename=name)
                view = resource_view(session, resource)
                session.commit()
            except BaseException:
                if created:  # still holding the blob row lock: nobody else can depend on it
                    svc.blobs.delete(sha256)
                raise
        if job_id is not None:
            hand_over(svc, [job_id])
        return view
    finally:
        staged.discard()


def _owning_org(session, actor: Actor, org_id: int | None) -> int | None:
    if org_id is None or org_id == actor.org_id:
        return actor.org_id
    org = session.get(Organisation, org_id)
    if org is None:
        raise InvalidInput(f"no organisation with id {org_id}", field="org", reason="org_missing")
    if not actor.is_admin and not (actor.org_path and org.path.startswith(actor.org_path)):
        raise PermissionDenied("you may only file resources under your own organisation",
                               field="org", reason="own_org_only")
    return org.id


def _refuse_duplicate(session, actor: Actor, sha256: str, public_access: bool) -> None:
    existing = session.scalars(
        select(Resource).where(Resource.blob_sha256 == sha256, Resource.deleted_at.is_(None))
        .order_by(Resource.created_at).limit(1)).first()
    if existing is None:
        return
    # Name the existing resource only to someone allowed to see it.
    visible = session.scalar(select(func.count()).select_from(Resource).where(
        Resource.id == existing.id, visible_clause(actor, public_access=public_access)))
    details = {"existing": {"id": existing.id, "title": existing.title}} if visible else {}
    where = f" as “{existing.title}” ({existing.id})" if visible else ""
    raise Duplicate(f"this file is already in the library{where}; pass allow_duplicate to "
                    "file it again with other metadata", reason="duplicate", **details)


def _apply(resource: Resource, fields: Mapping[str, Any], filename: str) -> set[str]:
    """Set validated fields on a resource; return the names whose value changed."""
    changed: set[str] = set()
    for name, value in fields.items():
        if name in VOCAB_FIELDS:  # by id: terms are session-free snapshots (catalog.vocab.Term)
            term_id = value.id if value is not None else None
            if getattr(resource, f"{name}_id") != term_id:
                setattr(resource, f"{name}_id", term_id)
                changed.add(name)
        elif name == "tags":
            if resource.tags != sorted(value):
                resource.tag_rows = [ResourceTag(tag=tag) for tag in value]
                changed.add(name)
        elif name in _TEXT_FIELDS and getattr(resource, name) != value:
            setattr(resource, name, value)
            changed.add(name)
    if not resource.title:
        if "title" in fields and resource.id is not None:
            raise InvalidInput("the title cannot be empty", field="title", reason="title_empty")
        resource.title = PurePosixPath(filename).stem or filename
    return changed


def get_resource(svc: Services, actor: Actor, resource_id: str) -> dict[str, Any]:
    with svc.catalog.read() as session:
        resource = require_view(actor, session.get(Resource, resource_id),
                                public_access=svc.settings.public_access)
        return resource_view(session, resource)


def list_resources(svc: Services, actor: Actor, *, page: int = 1, per_page: int = 20,
                   status: str | None = None) -> dict[str, Any]:
    """Newest first, only what the actor may see. (Search, with facets, is the indexer's.)"""
    page, per_page = max(page, 1), min(max(per_page, 1), 100)
    where = [visible_clause(actor, public_access=svc.settings.public_access)]
    if status:
        where.append(Resource.status == status)
    with svc.catalog.read() as session:
        total = session.scalar(select(func.count()).select_from(Resource).where(*where))
        rows = session.scalars(select(Resource).where(*where)
                               .order_by(Resource.created_at.desc(), Resource.id)
                               .offset((page - 1) * per_page).limit(per_page)).all()
        items = [resource_view(session, r, with_derivatives=False) for r in rows]
    return {"total": total, "page": page, "per_page": per_page, "items": items}


def update_resource(svc: Services, actor: Actor, resource_id: str,
                    changes: Mapping[str, Any]) -> dict[str, Any]:
    """Apply a partial change; a change that changes nothing records nothing."""
    with svc.catalog.write() as session:
        resource = require_edit(actor, session.get(Resource, resource_id),
                                public_access=svc.settings.public_access)
        fields = parse_metadata(changes, VocabIndex.load(session))
        changed = _apply(resource, fields, resource.filename)
        if changed:
            resource.updated_at = utcnow()
            op = "visibility" if changed & {"visibility", "status"} else "update"
            record_change(session, resource.id, op, actor.user_id)
        session.flush()
        # Reload the classification relationships whose ids changed above.
        session.expire(resource, [name for name in changed if name in VOCAB_FIELDS])
        return resource_view(session, resource)


def delete_resource(svc: Services, actor: Actor, resource_id: str) -> None:
    """Withdraw a resource. The row stays as a tombstone (mirrors and harvesters must learn
    of the deletion); the blob stays while anything else references it (`repo-server check`
    reports unreferenced blobs)."""
    with svc.catalog.write() as session:
        resource = require_edit(actor, session.get(Resource, resource_id),
                                public_access=svc.settings.public_access)
        resource.deleted_at = resource.updated_at = utcnow()
        record_change(session, resource.id, "delete", actor.user_id)


def may_edit(svc: Services, actor: Actor, resource_id: str) -> bool:
    """Whether the actor may change this resource (for showing edit controls)."""
    with svc.catalog.read() as session:
        resource = session.get(Resource, resource_id)
        return resource is not None and can_view(actor, resource, public_access=svc.settings.public_access) \
            and can_edit(actor, resource)


#: A bulk change touches at most this many resources (one page of the review queue is 100).
MAX_BULK = 500


def bulk_update(svc: Services, actor: Actor, resource_ids: list[str], changes: Mapping[str, Any], *,
                add_tags: list[str] | tuple[str, ...] = (),
                remove_tags: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """The same change to many resources in one transaction: editors tag, classify and publish
    a whole uploaded folder at once.

    The change is validated once, before anything is touched (an invalid change changes
    nothing). Resources the actor may not change, or cannot see, are skipped and reported
    (`skipped`: id → reason), never half-changed. Tags are added to / removed from each
    resource's own tags; `changes` may not set `tags` wholesale.
    """
    require_uploader(actor)
    ids = list(dict.fromkeys(i for i in resource_ids if i))
    if not ids:
        raise InvalidInput("choose at least one resource", field="ids", reason="bulk_none")
    if len(ids) > MAX_BULK:
        raise InvalidInput(f"at most {MAX_BULK} resources can be changed at once", field="ids",
                           reason="bulk_too_many", count=len(ids), maximum=MAX_BULK)
    if "tags" in changes:
        raise InvalidInput("use add_tags / remove_tags to change tags in bulk", field="tags",
                           reason="bulk_tags")
    with svc.catalog.write() as session:
        vocab = VocabIndex.load(session)
        fields = parse_metadata(changes, vocab)
        adding = set(parse_metadata({"tags": list(add_tags)}, vocab)["tags"]) if add_tags else set()
        removing = set(parse_metadata({"tags": list(remove_tags)}, vocab)["tags"]) if remove_tags else set()
        changed_ids, skipped = [], {}
        rows = {r.id: r for r in session.scalars(select(Resource).where(Resource.id.in_(ids)))}
        for resource_id in ids:
            resource = rows.get(resource_id)
            if resource is None or not can_view(actor, resource, public_access=svc.settings.public_access):
                skipped[resource_id] = "not found"
                continue
            if not can_edit(actor, resource):
                skipped[resource_id] = "not allowed"
                continue
            wanted = dict(fields)
            if adding or removing:
                wanted["tags"] = sorted((set(resource.tags) | adding) - removing)
            changed = _apply(resource, wanted, resource.filename)
            if changed:
                resource.updated_at = utcnow()
                op = "visibility" if changed & {"visibility", "status"} else "update"
                record_change(session, resource.id, op, actor.user_id)
                changed_ids.append(resource_id)
    return {"changed": changed_ids, "unchanged": [i for i in ids if i not in changed_ids and i not in skipped],
            "skipped": skipped}


def editable_resources(svc: Services, actor: Actor, *, status: str | None = "draft", page: int = 1,
                       per_page: int = 50) -> dict[str, Any]:
    """What an editor may change, for the review queue (status="draft", oldest first: first in,
    first reviewed) and bulk editing (any status, newest first)."""
    require_uploader(actor)
    page, per_page = max(page, 1), min(max(per_page, 1), 100)
    where = [editable_clause(actor)]
    if status:
        where.append(Resource.status == status)
    order = (Resource.created_at, Resource.id) if status == "draft" else (Resource.created_at.desc(), Resource.id)
    with svc.catalog.read() as session:
        total = session.scalar(select(func.count()).select_from(Resource).where(*where))
        rows = session.scalars(select(Resource).where(*where).order_by(*order)
                               .offset((page - 1) * per_page).limit(per_page)).all()
        items = [resource_view(session, r, with_derivatives=False) for r in rows]
    return {"total": total, "page": page, "per_page": per_page, "items": items}
