"""`repo-server backup DEST` and `repo-server restore SRC` (docs/deploy.md, "Backups")."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from repo_server.config import Settings
from repo_server.services.backup import backup as run_backup
from repo_server.services.restore import restore as run_restore
from repo_server.services.restore import verify_backup

from .base import cli, handles_errors, open_services

__all__ = ["backup", "restore"]


def _progress(label: str):
    last = [0.0]

    def show(done: int, total: int) -> None:
        if time.monotonic() - last[0] > 5 or done == total:
            last[0] = time.monotonic()
            click.echo(f"{label} {done:,}/{total:,} blobs", err=True)
    return show


@cli.command()
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
@handles_errors
def backup(dest: Path, as_json: bool) -> None:
    """Back up the catalog and every blob into directory DEST, while the server runs.
    Again on the same DEST, only new blobs are copied. MANIFEST.json is written last."""
    services = open_services()
    try:
        manifest = run_backup(services, dest, progress=_progress("backup"))
    finally:
        services.close()
    if as_json:
        click.echo(json.dumps(manifest, ensure_ascii=False, indent=2))
        return
    counts, blobs = manifest["counts"], manifest["blobs"]
    click.echo(f"backup     {dest.resolve()} ({manifest['catalog']['engine']} catalog, schema "
               f"{manifest['alembic_revision']})")
    click.echo(f"catalog    {counts['resources']:,} resources ({counts['deleted_resources']:,} withdrawn), "
               f"{counts['users']:,} users, change log at {counts['last_change']:,}")
    click.echo(f"blobs      {blobs['count']:,} ({counts['blob_bytes']:,} bytes): {blobs['copied']:,} copied "
               f"({blobs['copied_bytes']:,} bytes), {blobs['already_present']:,} already there")
    click.echo(f"done in {manifest['seconds']} s")


@cli.command()
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--verify-only", is_flag=True, help="Check the backup (re-hashing every blob), restore nothing.")
@click.option("--quick", is_flag=True,
              help="Check blob sizes only before restoring (blobs are still hashed while copied).")
@handles_errors
def restore(src: Path, verify_only: bool, quick: bool) -> None:
    """Restore backup SRC into an empty REPO_DATA_DIR, catalog database and bucket, then
    migrate it to this version and rebuild the search index."""
    if verify_only:
        manifest = verify_backup(src, deep=not quick)
        click.echo(f"backup {src} from {manifest['created']} is complete and intact: "
                   f"{manifest['counts']['resources']:,} resources, {manifest['counts']['blobs']:,} blobs")
        return
    report = run_restore(Settings.from_env(), src, deep=not quick, progress=_progress("restore"))
    click.echo(f"restored   {report['source']} (made {report['created']})")
    click.echo(f"catalog    {report['engine']}, schema {report['schema_before']} → {report['schema']}, "
               f"{report['counts']['resources']:,} resources")
    click.echo(f"blobs      {report['blobs_copied']:,} copied ({report['bytes_copied']:,} bytes)")
    click.echo(f"index      rebuilt: {report['documents_indexed']:,} documents")
    click.echo("next: start the services; with a mirror tree, `repo-server mirror publish --full`")
