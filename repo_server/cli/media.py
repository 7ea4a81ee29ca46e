"""`repo-server worker` and `repo-server media`: running and operating the media jobs."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import click

from repo_server.config import Settings
from repo_server.logs import announce, configure_logging
from repo_server.services.media_jobs import cancel_job, list_jobs, mark_enqueued, rebuild_jobs, retry_jobs
from repo_server.services.media_plan import DERIVATIVE_PROFILES
from repo_server.tasks import MediaQueue

from .base import EXIT_REFUSED, cli, fail, handles_errors, open_services

__all__ = ["worker", "media"]


@cli.command()
@click.option("--workers", type=click.IntRange(1, 16), default=1, show_default=True,
              help="Jobs run at the same time (each ffmpeg already uses every core).")
@click.option("--exit-with", type=int, hidden=True,
              help="Stop when the process with this id (the server that started us) is gone.")
@handles_errors
def worker(workers: int, exit_with: int | None) -> None:
    """Run the media worker: renditions, previews and thumbnails, from the job queue."""
    settings = Settings.from_env()
    configure_logging(settings)
    services = open_services()
    queue = MediaQueue(settings, services)
    handed = queue.sweep()   # jobs left behind while no worker ran
    where = settings.queue_url or settings.queue_file
    announce(settings, "repo_server.worker",
             f"media worker: queue {where}, {workers} at a time, {len(handed)} job(s) picked up")
    consumer = queue.consumer(workers)
    if exit_with:
        threading.Thread(target=_exit_with, args=(exit_with, consumer.ready), daemon=True).start()
    consumer.run()


def _exit_with(parent: int, ready: threading.Event) -> None:
    """Ask the consumer to stop (SIGINT: graceful) once `parent` has exited — only when the
    consumer's signal handlers are in place: before that, a SIGINT may be ignored outright
    (a disposition inherited from the process that started the server) and then never
    seen again, or interrupt Huey's start with its threads already running."""
    ready.wait()
    while os.getppid() == parent:
        time.sleep(2)
    os.kill(os.getpid(), signal.SIGINT)


@cli.group()
def media() -> None:
    """Media jobs: status, retry failed ones, rebuild derivatives, cancel."""


@media.command("status")
@click.option("--status", "state", type=click.Choice(["queued", "running", "done", "failed", "cancelled"]),
              help="Only jobs in this state.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@handles_errors
def status(state: str | None, limit: int, as_json: bool) -> None:
    """Jobs by state, then the most recent ones with their messages."""
    report = list_jobs(open_services(), status=state, limit=limit)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    counts = report["counts"]
    click.echo("  ".join(f"{name} {counts.get(name, 0)}"
                         for name in ("queued", "running", "done", "failed", "cancelled")))
    for job in report["jobs"]:
        progress = f" {job['progress']:.0%}" if job["status"] == "running" else ""
        click.echo(f"{job['id']:>7} {job['status']:<9}{progress} {job['kind']:<6} "
                   f"{job['resource_id'] or '-'} {job['title']}")
        if job["message"]:
            click.echo(f"        {job['message']}")


def _hand_over(services, ids: list[int]) -> None:
    if ids:
        services.enqueue(ids)
        mark_enqueued(services, ids)


@media.command("retry")
@click.argument("job_ids", nargs=-1, type=int)
@handles_errors
def retry(job_ids: tuple[int, ...]) -> None:
    """Queue failed or cancelled jobs again (all of them, or these ids)."""
    services = open_services()
    ids = retry_jobs(services, job_ids=list(job_ids) or None)
    _hand_over(services, ids)
    click.echo(f"queued {len(ids)} job(s) again")


@media.command("rebuild")
@click.option("--profile", type=click.Choice(DERIVATIVE_PROFILES),
              help="Only this derivative (e.g. after a change to the 360p settings).")
@click.argument("job_ids", nargs=-1, type=int)
@handles_errors
def rebuild(profile: str | None, job_ids: tuple[int, ...]) -> None:
    """Make derivatives again: every job's (or these ids'), all profiles or one."""
    services = open_services()
    ids = rebuild_jobs(services, profile=profile, job_ids=list(job_ids) or None)
    _hand_over(services, ids)
    click.echo(f"queued {len(ids)} job(s) to rebuild {profile or 'every derivative'}")


@media.command("cancel")
@click.argument("job_id", type=int)
@handles_errors
def cancel(job_id: int) -> None:
    """Stop a queued or running job (its ffmpeg is stopped within seconds)."""
    if not cancel_job(open_services(), job_id):
        fail(f"job {job_id} is not queued or running", EXIT_REFUSED)
    click.echo(f"cancelled job {job_id}")
