"""`scripts/repo-sync`: keep this data dir a mirror of an upstream tree (docs/mirrors.md,
"The downstream"). One command for cron or a systemd timer; exit 0 done or up to date,
75 try again later, 78 fix the configuration, 1 failed.

Imports are light on purpose: the services (SQLAlchemy, the catalog, the search index) are
imported and opened only when the upstream has a version to apply — a run that finds its
CURRENT unchanged is done in well under a second (goal ≤ 2 s, docs/benchmarks.md).
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from repo_server.config import Settings
from repo_server.errors import ConfigError, RepoError
from repo_server.sync.pull.errors import SyncFailure
from repo_server.sync.pull.options import SyncOptions, load_config, merge, read_secret
from repo_server.sync.pull.run import run_sync
from repo_server.sync.pull.selection import parse_only

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from repo_server.services import Services
    from repo_server.services.indexing import PreparedGeneration

__all__ = ["main"]


def _log(message: str) -> None:
    click.echo(f"repo-sync: {message}", err=True)


def _index_catch_up(services: Services) -> str:
    """Bring the local search index up to the change log in ONE commit (a search sees the
    previous version or the new one, never half); when `repo-server serve` holds the
    writer, its indexer does it within a second. An empty index facing a whole library (the
    first sync) is built in bulk instead, as a new generation swapped in at once: analysis in
    a pool of processes, one commit, each resource read once."""
    from repo_server.catalog.changes import last_seq
    from repo_server.services.indexing import BULK_BUILD_CHANGES, catch_up, rebuild
    from repo_server.services.search_tools import search_index

    writer = search_index(services).try_writer()
    if writer is None:
        return "left to the running server's indexer"
    try:
        if writer.outdated:
            return "outdated index schema: the server rebuilds it"
        if writer.seq == 0:
            with services.catalog.read() as session:
                changes = last_seq(session)
            if changes > BULK_BUILD_CHANGES:
                built = rebuild(services)
                return f"index built: {built['documents']} documents in {built['seconds']} s"
        applied = catch_up(services, writer, batch=10 ** 9)
        return f"{applied} changes indexed"
    finally:
        writer.close()


def _prepare_index(services: Services, session: Session) -> PreparedGeneration:
    """A first sync's index: a new generation built from the catalog transaction still open
    while the objects arrive, made live after its commit (sync/pull/overlap.py)."""
    from repo_server.services.indexing import prepare_generation

    return prepare_generation(services, session)


def _options(**given) -> SyncOptions:
    data_dir: Path = given["data_dir"]
    config_path = given["config"] or data_dir / "sync.toml"
    values = load_config(config_path, required=given["config"] is not None)
    cli_values = {
        "upstream": given["upstream"], "bwlimit": given["bwlimit"], "password_file": given["password_file"],
        "name": given["name"], "stall_s": given["stall_timeout"], "retries": given["retries"],
        "backoff_s": given["backoff"], "batch": given["batch"], "max_delete_percent": given["max_delete"],
        "report_url": given["report_url"], "rsync": given["rsync"], "io_timeout_s": given["io_timeout"],
        "pages": given["pages"], "ssh": given["ssh"],
    }
    if given["only"]:
        cli_values["only"] = parse_only(given["only"])
    if given["renditions"] is not None:
        cli_values["renditions"] = tuple(r for r in given["renditions"].split(",") if r.strip())
    if given["token_file"]:
        cli_values["token"] = read_secret(given["token_file"])
    elif os.environ.get("REPO_SYNC_TOKEN"):
        cli_values["token"] = os.environ["REPO_SYNC_TOKEN"]
    values.update({k: v for k, v in cli_values.items() if v is not None})
    if not values.get("upstream"):
        raise SyncFailure("config", f"no upstream: give --upstream or set `upstream` in {config_path}")
    options = merge(SyncOptions(upstream=values.pop("upstream"), data_dir=data_dir), values)
    return merge(options, {"force": given["force"] or None})


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--upstream", help="rsync://[user@]host[:port]/module, user@host:path (ssh) or a local path.")
@click.option("--data-dir", type=click.Path(path_type=Path), required=True, help="This mirror's REPO_DATA_DIR.")
@click.option("--only", multiple=True, metavar="FIELD=VALUE",
              help="Subscription (repeatable): stage, subject, grade, edition, volume, type or tag; "
                   "names, codes or aliases. Same field: any of them; different fields: all.")
@click.option("--renditions", metavar="360p,…", help="Video renditions to hold (default: all).")
@click.option("--pages/--no-pages", default=None, help="Hold documents' page images (default: yes).")
@click.option("--bwlimit", type=click.IntRange(1), metavar="KBPS", help="rsync --bwlimit, KB/s.")
@click.option("--password-file", type=click.Path(path_type=Path),
              help="rsync daemon password file (mode 0600); else RSYNC_PASSWORD.")
@click.option("--config", type=click.Path(path_type=Path), help="Config file (default <data-dir>/sync.toml).")
@click.option("--name", help="This tier's name in the chain (default REPO_MIRROR_NAME, else the host name).")
@click.option("--report-url", help="Upstream's /api/v1/mirrors/report: the status is POSTed there.")
@click.option("--token-file", type=click.Path(path_type=Path), help="Bearer token for --report-url "
              "(else REPO_SYNC_TOKEN).")
@click.option("--stall-timeout", type=float, metavar="S", help="Stop rsync after S seconds without progress (120).")
@click.option("--io-timeout", type=int, metavar="S", help="rsync --timeout (600).")
@click.option("--retries", type=click.IntRange(0), help="Retries of a failed transfer in one run (3).")
@click.option("--backoff", type=float, metavar="S", help="First pause between retries, doubling (15).")
@click.option("--batch", type=click.IntRange(1), help="Objects per rsync call (1000).")
@click.option("--max-delete", type=float, metavar="PERCENT",
              help="Garbage collection refuses to delete more than this share of the objects (20).")
@click.option("--force", is_flag=True, help="Let garbage collection delete beyond --max-delete.")
@click.option("--rsync", help="The rsync program (default: rsync on PATH).")
@click.option("--ssh", metavar="COMMAND", help="The ssh command for a user@host:path upstream, with its options "
              "(e.g. \"ssh -p 2222 -i /etc/repo-sync/id_ed25519 -o UserKnownHostsFile=/etc/repo-sync/known_hosts\"); "
              "BatchMode and timeouts are added. Default: ssh (or `ssh` in the config file).")
def main(**given) -> None:
    """Sync this data dir from its upstream mirror tree: one run, then exit."""
    try:
        options = _options(**given)
    except SyncFailure as failure:
        _log(failure.message)
        sys.exit(78)
    environ = {"REPO_DATA_DIR": str(options.data_dir)}
    try:
        settings = Settings.from_env({**os.environ, **environ})
    except RepoError as exc:
        _log(exc.message)
        sys.exit(78)
    opened: list[Services] = []

    def open_services() -> Services:
        """The catalog, blob store and index: opened only when there is something to apply."""
        from repo_server.catalog.migrate import current_revision
        from repo_server.services import Services
        from repo_server.services.maintenance import initialise

        try:
            services = Services.open(settings)
        except RepoError as exc:
            raise SyncFailure("config", exc.message) from None
        opened.append(services)
        try:
            if current_revision(services.catalog.engine) is None:
                initialise(services)       # a new mirror's first run: catalog created, seeded
            services.require_current_schema()
        except ConfigError as exc:
            raise SyncFailure("config", exc.message) from None
        return services

    name = options.name or " ".join(settings.mirror_name.split()) or socket.gethostname()
    try:
        outcome = run_sync(options, open_services, name=name, catch_up=lambda: _index_catch_up(opened[0]),
                           prepare_index=lambda session: _prepare_index(opened[0], session), log=_log)
    finally:
        for services in opened:
            services.close()
    for line in outcome.summary:
        click.echo(line)
    sys.exit(outcome.exit_code)


if __name__ == "__main__":
    main()
