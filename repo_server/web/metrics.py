"""GET /metrics in Prometheus text format, for the addresses in REPO_METRICS_ALLOW only.

Two kinds of metrics:

- **per request**, kept by each process: `repo_http_request_duration_seconds` (histogram by
  Flask endpoint name — never the raw path, so the label set stays bounded — method and
  status class) and `repo_http_requests_in_flight`. Under `repo-server serve` gunicorn runs
  several worker processes, so prometheus_client's multiprocess mode is used: every worker
  writes its values to files in PROMETHEUS_MULTIPROC_DIR (<data dir>/run/metrics, emptied by
  `serve` at start, see `prepare_multiprocess_dir`), a scrape answered by any worker adds
  them up, and gunicorn's `child_exit` hook (`worker_exited`) drops the live gauges of a
  worker that died. prometheus_client decides between multiprocess and in-process values
  when it is first imported, so it is imported only inside functions here, after `serve`
  has set the variable (the master never imports it before forking).
- **read at scrape time** from the catalog, the index and the disk (services/monitoring.py),
  cached for REPO_METRICS_CACHE_SECONDS, through one custom collector.
"""

from __future__ import annotations

import os
import shutil
import threading
from ipaddress import ip_address
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from repo_server.config import Settings
from repo_server.services.monitoring import MonitoringFigures

__all__ = ["init_app", "observe_request", "request_started", "request_ended",
           "prepare_multiprocess_dir", "worker_exited", "MULTIPROC_ENV", "LATENCY_BUCKETS"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_FIGURES = "repo_metrics_figures"

bp = Blueprint("metrics", __name__)


# -- per-process request metrics ------------------------------------------------------------------
class _RequestMetrics:
    """This process's request metrics, created on first use (after gunicorn's fork)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self.duration = Histogram(
            "repo_http_request_duration_seconds",
            "Time from a request's arrival until the app hands its response to the server "
            "(for downloads: until the first byte, not the whole transfer).",
            ("endpoint", "method", "status"), buckets=LATENCY_BUCKETS, registry=self.registry)
        self.in_flight = Gauge(
            "repo_http_requests_in_flight",
            "Requests being answered, streaming responses until their last byte.",
            registry=self.registry, multiprocess_mode="livesum")


_metrics: _RequestMetrics | None = None
_metrics_lock = threading.Lock()


def _request_metrics() -> _RequestMetrics:
    global _metrics
    with _metrics_lock:
        if _metrics is None:
            _metrics = _RequestMetrics()
        return _metrics


def request_started() -> None:
    _request_metrics().in_flight.inc()


def request_ended() -> None:
    _request_metrics().in_flight.dec()


def observe_request(endpoint: str | None, method: str, status: int, seconds: float) -> None:
    """Count one answered request under bounded labels."""
    _request_metrics().duration.labels(
        endpoint=endpoint or "unmatched",             # no route matched (a 404 for any path)
        method=method if method in _METHODS else "other",
        status=f"{status // 100}xx").observe(seconds)


# -- gunicorn's side -----------------------------------------------------------------------------
def prepare_multiprocess_dir(settings: Settings) -> str:
    """Empty the metrics directory and point prometheus_client at it; `serve` calls this
    before gunicorn forks any worker (values of an earlier run would otherwise be added)."""
    path = settings.metrics_dir
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(path)
    return str(path)


def worker_exited(server: Any, worker: Any) -> None:
    """gunicorn's child_exit hook, in the master: a dead worker's live gauges stop counting
    (its requests in flight are gone with it)."""
    path = os.environ.get(MULTIPROC_ENV)
    if path:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid, path)


# -- the scrape ----------------------------------------------------------------------------------
class _FiguresCollector:
    """The catalog figures as Prometheus gauge families."""

    def __init__(self, figures: MonitoringFigures) -> None:
        self.figures = figures

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        for figure in self.figures.figures():
            family = GaugeMetricFamily(figure.name, figure.help, labels=figure.labels)
            for labels, value in figure.samples:
                family.add_metric(list(labels), value)
            yield family


class _ProcessCollector:
    """This process's request metrics, when not under gunicorn's multiprocess mode."""

    def collect(self):
        yield from _request_metrics().registry.collect()


def _allowed(address: str | None, settings: Settings) -> bool:
    try:
        client = ip_address((address or "").split("%")[0])
    except ValueError:
        return False
    if getattr(client, "ipv4_mapped", None):
        client = client.ipv4_mapped
    return any(client in network for network in settings.metrics_networks)


@bp.get("/metrics")
def metrics() -> Response:
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import choose_encoder

    settings: Settings = current_app.extensions["repo"].settings
    if not _allowed(request.remote_addr, settings):
        return Response(f"metrics are not served to {request.remote_addr}: see REPO_METRICS_ALLOW\n",
                        status=403, mimetype="text/plain")
    registry = CollectorRegistry(auto_describe=False)
    path = os.environ.get(MULTIPROC_ENV)
    if path:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry, path=path)
    else:
        registry.register(_ProcessCollector())
    registry.register(_FiguresCollector(current_app.extensions[_FIGURES]))
    # The text format, or OpenMetrics when the scraper asks for it (Prometheus does).
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return Response(encode(registry), content_type=content_type)


def init_app(app: Flask, figures: MonitoringFigures) -> None:
    """Serve /metrics from `figures` (and the request metrics web/tracking.py records)."""
    app.extensions[_FIGURES] = figures
    _request_metrics()   # created now, in the worker: a scrape sees every worker's files
    app.register_blueprint(bp)
