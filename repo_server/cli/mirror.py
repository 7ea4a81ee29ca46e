"""`repo-server mirror`: publish the tree schools sync from, and serve it with rsync
(docs/mirrors.md)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

import click

from repo_server.config import Settings
from repo_server.sync import PublisherBusy, collect, publish, verify_tree
from repo_server.sync.rsyncd import MODULE, add_school, read_schools, remove_school, render_rsyncd_conf
from repo_server.sync.tree import MirrorTree

from .base import EXIT_REFUSED, EXIT_TEMPFAIL, cli, fail, handles_errors, open_services

__all__ = ["mirror"]


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)


@cli.group()
def mirror() -> None:
    """School mirrors: the exported tree (objects, manifests, CURRENT) and its rsync daemon."""


@mirror.command("publish")
@click.option("--full", is_flag=True,
              help="Recompute every resource and re-check every object (nightly reconciliation).")
@click.option("--gc/--no-gc", "gc", default=None,
              help="After a new serial, collect garbage even if the last collection was less than "
                   "an hour ago (--gc), or not at all (--no-gc). `mirror gc` collects any time.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@handles_errors
def publish_command(full: bool, gc: bool | None, as_json: bool) -> None:
    """Publish the next serial into <REPO_DATA_DIR>/mirror when the mirrored content changed.
    Exit 0: published or nothing to do; 1: refused (a blob is missing); 75: another publish
    is running or storage is unreachable."""
    services = open_services()
    try:
        report = publish(services, full=full, gc=gc)
    except PublisherBusy as exc:
        fail(exc.message, EXIT_TEMPFAIL)
    finally:
        services.close()
    if as_json:
        click.echo(json.dumps(asdict(report), ensure_ascii=False, indent=2))
        return
    click.echo(f"tree       {report.root}")
    if report.published:
        click.echo(f"serial     {report.serial} (was {report.previous or 'none'}): "
                   f"{report.upserts:,} new or changed, {report.removed:,} removed")
    else:
        click.echo(f"serial     {report.serial}: nothing changed, no new serial")
    click.echo(f"content    {report.resources:,} resources, {report.objects:,} objects, {_size(report.bytes)}")
    if report.published:
        click.echo(f"exported   {report.exported:,} objects, {_size(report.exported_bytes)} "
                   f"({report.linked:,} linked, {report.copied:,} copied); manifest "
                   f"{_size(report.manifest_bytes)}, delta {_size(report.delta_bytes)}; {report.seconds} s")
    if report.gc is not None:
        click.echo(f"gc         kept serials {report.gc.kept_serials}, removed {len(report.gc.removed_serials)} "
                   f"manifests and {report.gc.objects_removed:,} objects ({_size(report.gc.bytes_removed)})")


@mirror.command("status")
@click.option("--json", "as_json", is_flag=True)
@handles_errors
def status(as_json: bool) -> None:
    """The published serial and what it holds (reads only the tree)."""
    settings = Settings.from_env()
    current = MirrorTree(settings.mirror_dir).read_current()
    if current is None:
        fail(f"nothing published in {settings.mirror_dir} yet (`repo-server mirror publish`)", EXIT_REFUSED)
    if as_json:
        click.echo(json.dumps(current.as_dict(), ensure_ascii=False, indent=2))
        return
    chain = " → ".join(f"{link.get('name')}#{link.get('serial')}" for link in current.chain)
    click.echo(f"serial     {current.serial}, published {current.created}, change log {current.seq:,}")
    click.echo(f"content    {current.resources:,} resources, {current.objects:,} objects, {_size(current.bytes)}")
    click.echo(f"manifest   {current.manifest} ({_size(current.size)})"
               + (f", delta from {current.delta['base']} ({_size(current.delta['size'])})" if current.delta else ""))
    click.echo(f"chain      {chain}")


@mirror.command("verify")
@click.option("--deep", is_flag=True, help="Also re-hash every object (reads the whole tree).")
@handles_errors
def verify(deep: bool) -> None:
    """Check that CURRENT's manifest, delta and every object it lists are in the tree."""
    report = verify_tree(Settings.from_env().mirror_dir, deep=deep)
    click.echo(f"serial {report.serial}: {report.resources:,} resources, {report.objects:,} objects")
    for problem in report.problems:
        click.echo(f"  {problem}")
    click.echo("OK" if report.ok else "PROBLEMS FOUND (`repo-server mirror publish --full` re-exports)")
    sys.exit(0 if report.ok else EXIT_REFUSED)


@mirror.command("gc")
@handles_errors
def gc_command() -> None:
    """Delete manifests and objects the retention rule no longer keeps
    (REPO_MIRROR_KEEP_SERIALS, REPO_MIRROR_KEEP_DAYS)."""
    services = open_services()
    try:
        report = collect(services)
    except PublisherBusy as exc:
        fail(exc.message, EXIT_TEMPFAIL)
    finally:
        services.close()
    click.echo(f"kept serials {report.kept_serials}; removed {len(report.removed_serials)} manifests, "
               f"{report.objects_removed:,} objects ({_size(report.bytes_removed)}); "
               f"{report.objects_kept:,} objects kept")


@mirror.command("rsyncd-conf")
@click.option("--module", default=MODULE, show_default=True, help="rsync module name (rsync://host/MODULE).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: rsync's 873).")
@click.option("--address", help="Listen only on this address.")
@click.option("--timeout", type=click.IntRange(30, 86400), default=600, show_default=True,
              help="Seconds of silence before the daemon drops a client.")
@handles_errors
def rsyncd_conf(module: str, port: int | None, address: str | None, timeout: int) -> None:
    """Print an rsyncd.conf serving <REPO_DATA_DIR>/mirror read-only to the schools that have
    accounts (add-school)."""
    click.echo(render_rsyncd_conf(Settings.from_env(), module=module, port=port, address=address,
                                  timeout=timeout), nl=False)


@mirror.command("add-school")
@click.argument("name")
@handles_errors
def add_school_command(name: str) -> None:
    """Give school NAME an rsync account; prints its secret once (for its password file)."""
    settings = Settings.from_env()
    secret = add_school(settings.rsync_secrets, name)
    click.echo(secret)
    click.echo(f"added {name} to {settings.rsync_secrets}; put the line above into the school's "
               "password file (mode 600) and regenerate rsyncd.conf (`repo-server mirror rsyncd-conf`)",
               err=True)


@mirror.command("remove-school")
@click.argument("name")
@handles_errors
def remove_school_command(name: str) -> None:
    """Revoke school NAME's rsync account (takes effect on its next connection)."""
    settings = Settings.from_env()
    remove_school(settings.rsync_secrets, name)
    click.echo(f"removed {name}; regenerate rsyncd.conf so `auth users` no longer lists it")


@mirror.command("list-schools")
@handles_errors
def list_schools() -> None:
    """The schools with an rsync account."""
    for name in sorted(read_schools(Settings.from_env().rsync_secrets)):
        click.echo(name)
