"""The life of a media job in the catalog: queued → running → done | failed | cancelled.

The catalog, not the queue, is the truth. A job row is written in the upload's own
transaction (`queue_media`); the queue carries only its id, handed over after the commit.
So nothing is lost when the queue is unreachable at that moment, when Redis is flushed, or
when a worker dies mid-job: `jobs_to_enqueue` finds jobs never handed over, jobs whose
worker stopped beating its heartbeat, and queued jobs the queue no longer holds, and the
worker hands them out again. Claiming is one conditional UPDATE, so a job handed out twice
still runs once.

Retries: only transient failures (a timeout, a killed process, a full disk) are retried, up
to MAX_ATTEMPTS, with a growing delay; an unreadable file fails at once with its message.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from repo_server.catalog.base import utcnow
from repo_server.catalog.models import Derivative, MediaJob, Resource
from repo_server.errors import InvalidInput, NotFound

from .actor import Actor
from .context import Services
from .media_plan import job_kind, office_suffix
from .permissions import require_edit

__all__ = ["queue_media", "hand_over", "claim_job", "heartbeat", "still_running", "finish_job",
           "requeue_later", "mark_enqueued", "jobs_to_enqueue", "retry_jobs", "rebuild_jobs", "cancel_job", "job_for_resource",
           "job_view", "list_jobs", "ClaimedJob", "WORKER_ID", "HEARTBEAT_S", "STALE_AFTER",
           "MAX_ATTEMPTS", "retry_delay", "queued_for_actor_action"]

log = logging.getLogger(__name__)

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"
HEARTBEAT_S = 5.0
STALE_AFTER = timedelta(seconds=60)      # a running job without a heartbeat this long is orphaned
LOST_AFTER = timedelta(minutes=2)        # a queued job the queue should have started by now
MAX_ATTEMPTS = 3


def retry_delay(attempts: int) -> int:
    """Seconds before a transient failure is tried again: 1, then 5 minutes."""
    return 60 if attempts <= 1 else 300


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    source_sha256: str
    kind: str
    source_suffix: str
    attempts: int


def queue_media(session: Session, sha256: str, *, family: str, mime: str, filename: str) -> int | None:
    """In the caller's transaction: the job that will make this blob's derivatives. Returns
    its id when a new job was queued (to hand to the queue after the commit), None when the
    content needs none or already has one (identical uploads share derivatives)."""
    kind = job_kind(family, mime)
    if kind is None or session.scalar(select(MediaJob.id).where(MediaJob.source_sha256 == sha256)):
        return None
    job = MediaJob(source_sha256=sha256, kind=kind,
                   source_suffix=office_suffix(filename, mime) if kind == "office" else "")
    session.add(job)
    session.flush()
    return job.id


def hand_over(svc: Services, job_ids: list[int]) -> None:
    """After the commit: give the jobs to the queue. When the queue cannot be reached they
    stay queued in the catalog, and the worker's sweep hands them over later."""
    if svc.enqueue is None or not job_ids:
        return
    try:
        svc.enqueue(job_ids)
    except Exception as exc:
        log.warning("media jobs %s not handed to the queue yet (%s); the worker will pick them up",
                    job_ids, exc)
        return
    mark_enqueued(svc, job_ids)


def mark_enqueued(svc: Services, job_ids: Iterable[int]) -> None:
    ids = list(job_ids)
    if ids:
        with svc.catalog.write() as session:
            session.execute(update(MediaJob).where(MediaJob.id.in_(ids))
                            .values(enqueued_at=utcnow()))


def claim_job(svc: Services, job_id: int, worker: str = WORKER_ID) -> ClaimedJob | None:
    """Take a queued job for this worker; None when it is not queued (done, cancelled,
    or already taken by a duplicate hand-out)."""
    now = utcnow()
    with svc.catalog.write() as session:
        taken = session.execute(
            update(MediaJob).where(MediaJob.id == job_id, MediaJob.status == "queued")
            .values(status="running", worker=worker, started_at=now, heartbeat_at=now,
                    updated_at=now, attempts=MediaJob.attempts + 1, progress=0.0, message="")
        ).rowcount
        if not taken:
            return None
        job = session.get(MediaJob, job_id)
        return ClaimedJob(job.id, job.source_sha256, job.kind, job.source_suffix, job.attempts)


def heartbeat(svc: Services, job_id: int, progress: float, worker: str = WORKER_ID) -> bool:
    """Record that the job is alive and how far it is; False when it should stop (cancelled,
    or handed to another worker after this one was presumed dead)."""
    now = utcnow()
    with svc.catalog.write() as session:
        return bool(session.execute(
            update(MediaJob).where(MediaJob.id == job_id, MediaJob.status == "running",
                                   MediaJob.worker == worker)
            .values(heartbeat_at=now, updated_at=now, progress=round(min(max(progress, 0.0), 1.0), 4))
        ).rowcount)


def still_running(svc: Services, job_id: int, worker: str = WORKER_ID) -> bool:
    """Whether the job is still this worker's to run (not cancelled, not taken over)."""
    with svc.catalog.read() as session:
        return session.scalar(select(MediaJob.id).where(
            MediaJob.id == job_id, MediaJob.status == "running", MediaJob.worker == worker)) is not None


def finish_job(svc: Services, job_id: int, status: str, message: str = "",
               worker: str = WORKER_ID) -> None:
    """done or failed (with the message a person reads), unless cancelled meanwhile."""
    now = utcnow()
    values: dict[str, Any] = {"status": status, "message": message[:2000], "finished_at": now,
                              "updated_at": now, "heartbeat_at": None}
    if status == "done":
        values["progress"] = 1.0
    with svc.catalog.write() as session:
        session.execute(update(MediaJob).where(MediaJob.id == job_id, MediaJob.status == "running",
                                               MediaJob.worker == worker).values(**values))


def requeue_later(svc: Services, job_id: int, message: str, worker: str = WORKER_ID, *,
                  refund: bool = False) -> None:
    """A transient failure: back to queued (the caller schedules it after `retry_delay`).
    `refund`: the attempt does not count (the worker was stopped, the job did not fail)."""
    now = utcnow()
    values: dict[str, Any] = {"status": "queued", "message": message[:2000], "updated_at": now,
                              "enqueued_at": now, "heartbeat_at": None}
    if refund:
        values["attempts"] = MediaJob.attempts - 1
    with svc.catalog.write() as session:
        session.execute(update(MediaJob).where(MediaJob.id == job_id, MediaJob.status == "running",
                                               MediaJob.worker == worker).values(**values))


def jobs_to_enqueue(svc: Services, *, queue_is_empty: bool) -> list[int]:
    """Jobs to hand to the queue (again): never handed over; running without a heartbeat
    (their worker died: they go back to queued); and, when the queue holds nothing, queued
    jobs that should have started long ago (the queue lost them)."""
    now = utcnow()
    with svc.catalog.write() as session:
        session.execute(
            update(MediaJob).where(MediaJob.status == "running",
                                   MediaJob.heartbeat_at < now - STALE_AFTER)
            .values(status="queued", worker="", heartbeat_at=None, updated_at=now, enqueued_at=None,
                    message="picked up again: the worker running it stopped"))
        lost = [MediaJob.enqueued_at.is_(None)]
        if queue_is_empty:
            lost.append(MediaJob.enqueued_at < now - LOST_AFTER)
        return list(session.scalars(select(MediaJob.id).where(MediaJob.status == "queued", or_(*lost))
                                    .order_by(MediaJob.id)))


def _requeue(session: Session, jobs: Iterable[MediaJob]) -> list[int]:
    now, ids = utcnow(), []
    for job in jobs:
        job.status, job.message, job.progress, job.attempts = "queued", "", 0.0, 0
        job.worker, job.enqueued_at, job.heartbeat_at, job.finished_at = "", None, None, None
        job.updated_at = now
        ids.append(job.id)
    return ids


def retry_jobs(svc: Services, *, job_ids: Iterable[int] | None = None) -> list[int]:
    """Failed (or cancelled) jobs back to queued; derivatives already made are kept, the
    failed ones are made again. Returns the ids to enqueue."""
    with svc.catalog.write() as session:
        query = select(MediaJob).where(MediaJob.status.in_(("failed", "cancelled")))
        if job_ids is not None:
            query = query.where(MediaJob.id.in_(list(job_ids)))
        jobs = list(session.scalars(query))
        session.execute(delete(Derivative).where(
            Derivative.source_sha256.in_([j.source_sha256 for j in jobs]),
            Derivative.status != "done"))
        return _requeue(session, jobs)


def rebuild_jobs(svc: Services, *, profile: str | None = None,
                 job_ids: Iterable[int] | None = None) -> list[int]:
    """Make derivatives again (after an upgrade changed a profile): all of them, or only
    `profile`. Running jobs are left alone. Returns the ids to enqueue."""
    with svc.catalog.write() as session:
        query = select(MediaJob).where(MediaJob.status != "running")
        if job_ids is not None:
            query = query.where(MediaJob.id.in_(list(job_ids)))
        jobs = list(session.scalars(query))
        shas = [j.source_sha256 for j in jobs]
        doomed = delete(Derivative).where(Derivative.source_sha256.in_(shas))
        if profile is not None:
            doomed = doomed.where(Derivative.profile == profile)
            have = set(session.scalars(select(Derivative.source_sha256).where(
                Derivative.source_sha256.in_(shas), Derivative.profile == profile)))
            jobs = [j for j in jobs if j.source_sha256 in have]
        session.execute(doomed)
        return _requeue(session, jobs)


def cancel_job(svc: Services, job_id: int) -> bool:
    """Stop a queued or running job (a running one stops within a few seconds, its ffmpeg
    killed). Returns False when it had already ended."""
    now = utcnow()
    with svc.catalog.write() as session:
        cancelled = session.execute(
            update(MediaJob).where(MediaJob.id == job_id, MediaJob.status.in_(("queued", "running")))
            .values(status="cancelled", message="cancelled", finished_at=now, updated_at=now)
        ).rowcount
        if cancelled:
            sha = session.scalar(select(MediaJob.source_sha256).where(MediaJob.id == job_id))
            session.execute(update(Derivative).where(
                Derivative.source_sha256 == sha, Derivative.status.in_(("queued", "running")))
                .values(status="cancelled", message="cancelled", updated_at=now))
        return bool(cancelled)


def job_for_resource(svc: Services, actor: Actor, resource_id: str) -> MediaJob:
    """The media job of a resource the actor may change (for retry and cancel)."""
    with svc.catalog.read() as session:
        resource = require_edit(actor, session.get(Resource, resource_id),
                                public_access=svc.settings.public_access)
        job = session.scalar(select(MediaJob).where(MediaJob.source_sha256 == resource.blob_sha256))
        if job is None:
            raise NotFound("this resource has no previews or renditions to make", reason="no_media_job")
        session.expunge(job)
        return job


def queued_for_actor_action(svc: Services, actor: Actor, resource_id: str, action: str) -> list[int]:
    """`retry` or `cancel` the job of one resource on behalf of an editor; ids to enqueue."""
    job = job_for_resource(svc, actor, resource_id)
    if action == "cancel":
        if not cancel_job(svc, job.id):
            raise InvalidInput(f"the job has already ended ({job.status})", field="action",
                               reason="job_ended", status=job.status)
        return []
    if action == "retry":
        if job.status not in ("failed", "cancelled"):
            raise InvalidInput(f"only failed or cancelled jobs can be retried (this one is {job.status})",
                               field="action", reason="job_not_retryable", status=job.status)
        return retry_jobs(svc, job_ids=[job.id])
    raise InvalidInput(f"unknown action {action!r}", field="action", reason="job_action", value=action)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def job_view(job: MediaJob) -> dict[str, Any]:
    return {"id": job.id, "kind": job.kind, "status": job.status, "message": job.message,
            "progress": job.progress, "attempts": job.attempts, "worker": job.worker,
            "created_at": _iso(job.created_at), "started_at": _iso(job.started_at),
            "finished_at": _iso(job.finished_at), "updated_at": _iso(job.updated_at)}


def list_jobs(svc: Services, *, status: str | None = None, limit: int = 100) -> dict[str, Any]:
    """Counts by status and the most recently changed jobs (with a resource each), for the
    CLI and the admin page."""
    with svc.catalog.read() as session:
        counts = dict(session.execute(select(MediaJob.status, func.count()).group_by(MediaJob.status)).all())
        query = select(MediaJob).order_by(MediaJob.updated_at.desc(), MediaJob.id.desc()).limit(limit)
        if status:
            query = query.where(MediaJob.status == status)
        jobs = list(session.scalars(query))
        titles: dict[str, tuple[str, str]] = {}
        for sha, rid, title in session.execute(
                select(Resource.blob_sha256, Resource.id, Resource.title)
                .where(Resource.blob_sha256.in_([j.source_sha256 for j in jobs]),
                       Resource.deleted_at.is_(None))):
            titles.setdefault(sha, (rid, title))
        rows = []
        for job in jobs:
            rid, title = titles.get(job.source_sha256, (None, ""))
            rows.append({**job_view(job), "resource_id": rid, "title": title})
        return {"counts": counts, "jobs": rows}
