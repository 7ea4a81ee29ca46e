"""Running an instance: init, config, serve, check."""

from __future__ import annotations

import json
import sys

import click

from repo_server.config import Settings, describe
from repo_server.errors import ConfigError
from repo_server.serve import serve as run
from repo_server.services.consistency import check_consistency
from repo_server.services.maintenance import initialise

from .base import EXIT_CONFIG, EXIT_REFUSED, cli, fail, handles_errors, open_services

__all__ = ["init", "show_config", "serve", "check"]


@cli.command()
@handles_errors
def init() -> None:
    """Create the data directory, migrate the catalog, seed the vocabularies. Idempotent."""
    report = initialise(open_services(migrated=False))
    click.echo(f"data dir   {report['data_dir']}")
    click.echo(f"catalog    {report['catalog']} (schema {report['schema_before'] or 'new'} → "
               f"{report['schema']})")
    click.echo(f"vocabulary {report['vocabulary_rows_added']} rows added")


@cli.command("config")
def show_config() -> None:
    """Every setting with its environment variable, current value and meaning."""
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        fail(exc.message, EXIT_CONFIG)
    for info in describe():
        value = getattr(settings, info.name)
        shown = "(set)" if info.secret and value else value
        click.echo(f"{info.env}={shown}\n    {info.help}")


@cli.command()
@click.option("--host", help="Address to listen on (REPO_HOST).")
@click.option("--port", type=int, help="Port to listen on (REPO_PORT).")
@handles_errors
def serve(host: str | None, port: int | None) -> None:
    """Run the web server (gunicorn, threaded workers)."""
    settings = Settings.from_env()
    services = open_services()  # fail here, clearly, if the catalog is not initialised
    removed = services.staging.sweep()  # uploads a crashed worker left behind (> 24 h old)
    if removed:
        click.echo(f"removed {removed} stale partial uploads from {settings.staging_dir}", err=True)
    services.close()
    run(settings, host, port)


@cli.command()
@click.option("--deep", is_flag=True, help="Also re-hash every blob (reads everything).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
@handles_errors
def check(deep: bool, as_json: bool) -> None:
    """Compare the catalog with the blob store; exit 1 when something is wrong."""
    report = check_consistency(open_services(), deep=deep)
    if as_json:
        click.echo(json.dumps(report.__dict__ | {"ok": report.ok}, indent=2))
    else:
        click.echo(f"{report.resources} resources, {report.blobs} blobs")
        for label, items in (("missing from the store", report.missing),
                             ("orphans in the store", report.orphans),
                             ("size mismatches", report.size_mismatch),
                             ("corrupt", report.corrupt),
                             ("unreferenced (from deletions)", report.unreferenced)):
            click.echo(f"{label}: {len(items)}")
            for sha256 in items[:20]:
                click.echo(f"  {sha256}")
        click.echo("OK" if report.ok else "PROBLEMS FOUND")
    sys.exit(0 if report.ok else EXIT_REFUSED)
