"""`repo-server index`: the search index and extracted texts."""

from __future__ import annotations

import json
import signal
import sys
import time

import click

from repo_server.catalog.leases import try_lease
from repo_server.ingest.extract.sandbox import ExtractionSandbox
from repo_server.logs import announce, configure_logging
from repo_server.services import indexing, texts
from repo_server.services.background import EXTRACT_LEASE, BackgroundWork
from repo_server.services.search_tools import search_index

from .base import cli, handles_errors, open_services

__all__ = ["index"]


@cli.group()
def index() -> None:
    """Search index: status, rebuild, run the indexer, catch up."""


@index.command("status")
@click.option("--json", "as_json", is_flag=True)
@handles_errors
def status(as_json: bool) -> None:
    """Indexed sequence, lag behind the catalog, documents, size."""
    report = indexing.index_status(open_services())
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    click.echo(f"engine      {report['engine']} ({report['root']})")
    click.echo(f"generation  {report['generation']}")
    click.echo(f"documents   {report['documents']:,}  ({report['size_bytes'] / 1e6:.1f} MB)")
    click.echo(f"indexed     change {report['seq']:,} of {report['catalog_seq']:,}: "
               f"lag {report['lag']:,} changes, {report['lag_seconds']} s")
    if report["outdated"]:
        click.echo(f"schema      {report['schema']}, older than this version's: the indexer "
                   "rebuilds it on start (or run `repo-server index rebuild`)")


@index.command("rebuild")
@handles_errors
def rebuild() -> None:
    """Build a new index beside the live one and swap atomically; search keeps answering."""
    services = open_services()
    last = [0.0]

    def progress(done: int, total: int) -> None:
        if time.monotonic() - last[0] > 2 or done == total:
            last[0] = time.monotonic()
            click.echo(f"{done:,}/{total:,} resources", err=True)

    report = indexing.rebuild(services, progress=progress)
    click.echo(f"rebuilt {report['generation']}: {report['documents']:,} documents in "
               f"{report['seconds']} s, {report['caught_up']} changes caught up while building")


@index.command("catch-up")
@click.option("--no-extract", is_flag=True, help="Do not extract pending texts first.")
@handles_errors
def catch_up(no_extract: bool) -> None:
    """Extract pending texts and apply pending changes once, then exit (for scripts)."""
    services = open_services()
    extracted = 0
    lease = None if no_extract else try_lease(services.catalog, EXTRACT_LEASE)
    if not no_extract and lease is None:
        click.echo("another process extracts texts (a running server or `index run`, maybe on "
                   "another node); not extracting here", err=True)
    if lease is not None:
        sandbox = ExtractionSandbox(task_timeout_s=services.settings.extract_timeout,
                                    soffice=services.settings.soffice)
        try:
            while lease.held() and (batch := texts.extract_pending(services, sandbox)):
                extracted += batch
        finally:
            sandbox.close()
            lease.release()
    writer = search_index(services).try_writer()
    if writer is None:
        click.echo("another process is writing the index (a running server or `index run`); "
                   "it keeps the index up to date", err=True)
        sys.exit(0)
    try:
        applied = indexing.catch_up(services, writer)
    finally:
        writer.close()
    click.echo(f"extracted {extracted} texts, applied {applied} changes")


@index.command("run")
@handles_errors
def run() -> None:
    """Keep the index and texts up to date until stopped (a service of its own; set
    REPO_BACKGROUND_WORK=off on the web servers then)."""
    services = open_services()
    configure_logging(services.settings)
    work = BackgroundWork(services).start()
    stopped = []
    signal.signal(signal.SIGTERM, lambda *_: stopped.append(True))
    announce(services.settings, "repo_server.indexer", "indexer running; Ctrl-C to stop")
    try:
        while not stopped:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    work.stop()


@index.command("retry-failed")
@handles_errors
def retry_failed() -> None:
    """Extract again every text whose extraction failed (e.g. after installing LibreOffice)."""
    click.echo(f"{texts.retry_failed(open_services())} failed extractions will be retried")
