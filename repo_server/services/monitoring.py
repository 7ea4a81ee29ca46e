"""The figures /metrics reports from the catalog, the index and the disk, read at scrape time.

Engine-neutral: each `Figure` is a name, a help text, label names and samples; the web layer
turns them into Prometheus families (web/metrics.py). `MonitoringFigures` keeps the last
reading for REPO_METRICS_CACHE_SECONDS, so a scrape every 15 s costs one set of queries per
web worker however many Prometheus servers ask.

Every query is chosen to stay cheap on a 1,000,000-item catalog, except the totals: job
counts only for the small states (queued, running, failed) through
`ix_media_jobs_status_updated`; the index lag from the change log's primary key; mirror
reports are one row per school, at most MAX_LABELLED_MIRRORS of them with their own labels.
The totals (blob count and bytes: a scan of `blobs`; live resources per status: an
index-only scan of `ix_resources_listing`) take about half a second together at a million
items on PostgreSQL (bench/metrics_queries.py, docs/operations.md), so they are read
SLOW_FACTOR times less often. Each group is read on its own: one that fails (an
unreachable queue, a missing index) is reported as `repo_metrics_group_up 0` and logged,
the others are still answered.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import case, func, or_, select

from repo_server.catalog.base import utcnow
from repo_server.catalog.models import Blob, MediaJob, MirrorReport, Resource, STATUSES

from .context import Services
from .indexing import index_status
from .mirror_reports import local_mirror_status, published_serial

__all__ = ["Figure", "MonitoringFigures", "gather", "downstream_mirror_counts", "MAX_LABELLED_MIRRORS",
           "JOB_STATES_COUNTED", "SLOW_FACTOR"]

log = logging.getLogger(__name__)

MAX_LABELLED_MIRRORS = 500          # downstream mirrors with their own label values
JOB_STATES_COUNTED = ("queued", "running", "failed")
SLOW_FACTOR = 20                     # totals: 20 x REPO_METRICS_CACHE_SECONDS (5 min by default)


@dataclass(frozen=True)
class Figure:
    """One metric family: `samples` are (label values, value) pairs, in `labels` order."""

    name: str
    help: str
    labels: tuple[str, ...] = ()
    samples: list[tuple[tuple[str, ...], float]] = field(default_factory=list)

    @classmethod
    def single(cls, name: str, help: str, value: float) -> "Figure":
        return cls(name, help, (), [((), float(value))])


def _jobs(svc: Services) -> list[Figure]:
    with svc.catalog.read() as session:
        counts = dict(session.execute(
            select(MediaJob.status, func.count()).where(MediaJob.status.in_(JOB_STATES_COUNTED))
            .group_by(MediaJob.status)).all())
    return [Figure("repo_media_jobs", "Media jobs (renditions, previews) by state, from the "
                   "catalog; 'failed' ended with a message and will not be retried by themselves.",
                   ("state",), [((state,), float(counts.get(state, 0))) for state in JOB_STATES_COUNTED])]


def _queue(depth: Callable[[], int]) -> list[Figure]:
    return [Figure.single("repo_queue_pending", "Jobs waiting in the Huey queue (pending and "
                          "scheduled retries).", depth())]


def _index(svc: Services) -> list[Figure]:
    status = index_status(svc)
    return [
        Figure.single("repo_index_applied_seq", "Last change-log sequence this node's search "
                      "index has applied.", status["seq"]),
        Figure.single("repo_catalog_change_seq", "Last change-log sequence in the catalog.",
                      status["catalog_seq"]),
        Figure.single("repo_index_lag_changes", "Changes this node's search index has not "
                      "applied yet.", status["lag"]),
        Figure.single("repo_index_lag_seconds", "Age of the oldest change the index has not "
                      "applied (0 when caught up).", status["lag_seconds"]),
        Figure.single("repo_index_documents", "Documents in the live search index.",
                      status["documents"]),
    ]


def _totals(svc: Services) -> list[Figure]:
    with svc.catalog.read() as session:
        count, size = session.execute(select(func.count(), func.coalesce(func.sum(Blob.size), 0))).one()
        resources = dict(session.execute(
            select(Resource.status, func.count()).where(Resource.deleted_at.is_(None))
            .group_by(Resource.status)).all())
    return [
        Figure.single("repo_blobs", "Blobs in the catalog (originals and derivatives, each "
                      "stored once).", count),
        Figure.single("repo_blob_bytes", "Bytes of every blob in the catalog.", size),
        Figure("repo_resources", "Live (not withdrawn) resources by status.", ("status",),
               [((status,), float(resources.get(status, 0))) for status in STATUSES]),
    ]


def _disk(svc: Services) -> list[Figure]:
    usage = shutil.disk_usage(svc.settings.data_dir)
    return [
        Figure.single("repo_data_dir_free_bytes", "Free bytes on the data directory's "
                      "filesystem (catalog, local blobs, staging of uploads).", usage.free),
        Figure.single("repo_data_dir_size_bytes", "Size of the data directory's filesystem.",
                      usage.total),
    ]


def _this_mirror(svc: Services) -> list[Figure]:
    status = local_mirror_status(svc)
    if status is None:       # not a mirror
        return []
    figures = [Figure.single("repo_mirror_status_readable", "1 when the sync script's "
                             "status.json can be read and checked.", 1 if status["readable"] else 0)]
    if not status["readable"]:
        return figures
    success = status["last_success_at"]
    optional = {
        "repo_mirror_serial": ("Upstream serial this mirror holds.", status["serial"]),
        "repo_mirror_upstream_serial": ("Serial the upstream offered at the last attempt.",
                                        status["upstream_serial"]),
        "repo_mirror_behind_serials": ("Serials this mirror is behind its upstream.", status["behind"]),
        "repo_mirror_last_success_timestamp_seconds": (
            "Unix time of this mirror's last successful sync.",
            _epoch(success) if success else None),
    }
    figures += [Figure.single(name, help, value) for name, (help, value) in optional.items()
                if value is not None]
    figures.append(Figure.single("repo_mirror_stale", "1 when the last successful sync is older "
                                 "than REPO_MIRROR_STALE_HOURS (or there was none).", status["stale"]))
    return figures


def _epoch(iso_time: str) -> float:
    return datetime.fromisoformat(iso_time.replace("Z", "+00:00")).timestamp()


def downstream_mirror_counts(svc: Services) -> dict[str, int]:
    """Downstream mirrors that reported, as {"stale": n, "fresh": m}: stale when the last
    success is older than REPO_MIRROR_STALE_HOURS, or there never was one."""
    cutoff = utcnow() - timedelta(hours=svc.settings.mirror_stale_hours)
    with svc.catalog.read() as session:
        total, stale = session.execute(select(
            func.count(),
            func.coalesce(func.sum(case((or_(MirrorReport.last_success_at.is_(None),
                                             MirrorReport.last_success_at < cutoff), 1), else_=0)), 0),
        )).one()
    return {"stale": int(stale), "fresh": int(total - stale)}


def _downstream(svc: Services) -> list[Figure]:
    own = published_serial(svc)
    with svc.catalog.read() as session:
        rows = session.execute(
            select(MirrorReport.name, MirrorReport.serial, MirrorReport.last_success_at)
            .order_by(MirrorReport.last_success_at.is_(None).desc(), MirrorReport.last_success_at,
                      MirrorReport.name)
            .limit(MAX_LABELLED_MIRRORS)).all()
    figures: list[Figure] = []
    if own is not None:
        figures.append(Figure.single("repo_mirror_published_serial", "Serial this server "
                                     "publishes to its downstream mirrors now.", own))
    counts = downstream_mirror_counts(svc)
    figures.append(Figure("repo_downstream_mirrors", "Downstream mirrors that reported, by "
                          "whether their last success is older than REPO_MIRROR_STALE_HOURS.",
                          ("state",), [((state,), float(n)) for state, n in counts.items()]))
    behind, success = [], []
    for name, serial, last_success in rows:
        if own is not None and serial is not None and own >= serial:
            behind.append(((name,), float(own - serial)))
        if last_success is not None:
            success.append(((name,), last_success.timestamp()))
    figures.append(Figure("repo_downstream_mirror_behind_serials", "Serials a downstream mirror "
                          "is behind what this server publishes (the stalest "
                          f"{MAX_LABELLED_MIRRORS} mirrors).", ("mirror",), behind))
    figures.append(Figure("repo_downstream_mirror_last_success_timestamp_seconds", "Unix time of a "
                          "downstream mirror's last successful sync.", ("mirror",), success))
    return figures


def _groups(svc: Services, queue_depth: Callable[[], int] | None) -> list[tuple[str, bool, Callable[[], list[Figure]]]]:
    """(name, slow, reader) of every group; slow ones scan a large table."""
    groups: list[tuple[str, bool, Callable[[], list[Figure]]]] = [
        ("jobs", False, lambda: _jobs(svc)),
        ("index", False, lambda: _index(svc)),
        ("totals", True, lambda: _totals(svc)),
        ("disk", False, lambda: _disk(svc)),
        ("mirror", False, lambda: _this_mirror(svc)),
        ("downstream", False, lambda: _downstream(svc)),
    ]
    if queue_depth is not None:
        groups.insert(1, ("queue", False, lambda: _queue(queue_depth)))
    return groups


def _read(group: str, reader: Callable[[], list[Figure]]) -> tuple[list[Figure], bool]:
    try:
        return reader(), True
    except Exception as exc:  # noqa: BLE001  (a scrape reports what it can)
        log.warning("metrics: cannot read %s figures: %s", group, exc)
        return [], False


def _with_up(readings: list[tuple[str, list[Figure], bool]]) -> list[Figure]:
    figures = [figure for _, group_figures, _ in readings for figure in group_figures]
    figures.append(Figure("repo_metrics_group_up", "1 when the figures of this group could be "
                          "read at the last reading (see the server log when 0).", ("group",),
                          [((group,), 1.0 if ok else 0.0) for group, _, ok in readings]))
    return figures


def gather(svc: Services, queue_depth: Callable[[], int] | None = None) -> list[Figure]:
    """Every figure, read now. A group that fails is left out and reported as down."""
    return _with_up([(group, *_read(group, reader)) for group, _, reader in _groups(svc, queue_depth)])


class MonitoringFigures:
    """`gather` with a cache shared by the threads of one process: `ttl_s` seconds for most
    groups, SLOW_FACTOR times that for the totals, which read a whole table (the blob and
    resource totals move slowly; on a million items a reading of them costs about half a
    second, measured in docs/operations.md)."""

    def __init__(self, svc: Services, *, queue_depth: Callable[[], int] | None = None,
                 ttl_s: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.svc = svc
        self.ttl_s = svc.settings.metrics_cache_seconds if ttl_s is None else ttl_s
        self._groups = _groups(svc, queue_depth)
        self._clock = clock
        self._lock = threading.Lock()
        self._readings: dict[str, tuple[float, list[Figure], bool]] = {}

    def figures(self) -> list[Figure]:
        with self._lock:   # concurrent scrapes wait for one reading instead of each querying
            out = []
            for group, slow, reader in self._groups:
                ttl = self.ttl_s * (SLOW_FACTOR if slow else 1)
                cached = self._readings.get(group)
                if cached is None or self._clock() - cached[0] >= ttl:
                    figures, ok = _read(group, reader)
                    cached = self._readings[group] = (self._clock(), figures, ok)
                out.append((group, cached[1], cached[2]))
            return _with_up(out)
