"""The `repo-server` command: one click group, a sub-group per subsystem.

Exit codes: 0 success; 1 a request was refused (bad input, not found); 2 usage error
(click); 75 temporary failure, retry later (storage unreachable); 78 configuration error,
fix a setting. Scripts and cron jobs can tell "retry" from "fix it" by these.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

import click

from repo_server.config import Settings, describe
from repo_server.errors import ConfigError, RepoError, StorageError
from repo_server.services import Services, accounts, importer, vocabularies
from repo_server.services.consistency import check_consistency
from repo_server.serve import serve as run
from repo_server.services.maintenance import initialise

__all__ = ["main", "cli"]

EXIT_REFUSED, EXIT_TEMPFAIL, EXIT_CONFIG = 1, 75, 78


def _fail(message: str, code: int) -> None:
    click.echo(f"repo-server: {message}", err=True)
    sys.exit(code)


def handles_errors(func: Callable) -> Callable:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            _fail(exc.message, EXIT_CONFIG)
        except StorageError as exc:
            _fail(f"{exc.message} (try again later)", EXIT_TEMPFAIL)
        except RepoError as exc:
            _fail(exc.message, EXIT_REFUSED)
    return wrapper


def open_services(*, migrated: bool = True) -> Services:
    services = Services.open(Settings.from_env())
    if migrated:
        services.require_current_schema()
    return services


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="repo-server")
def cli() -> None:
    """District education-resource repository. Configure with REPO_* variables
    (`repo-server config` lists them)."""


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
        _fail(exc.message, EXIT_CONFIG)
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
    open_services().close()  # fail here, clearly, if the catalog is not initialised
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


# -- users, organisations, tokens -----------------------------------------------------------
@cli.group()
def user() -> None:
    """Manage users."""


def _read_password(prompt: str = "Password") -> str:
    if sys.stdin.isatty():
        return click.prompt(prompt, hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


@user.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "editor", "teacher"]), required=True)
@click.option("--org", help="Organisation: id, path (市/县/校) or unique name.")
@click.option("--display-name", default="", help="Name shown in the interface.")
@click.option("--no-password", is_flag=True, help="Token-only account (mirrors, scripts).")
@handles_errors
def user_add(username: str, role: str, org: str | None, display_name: str, no_password: bool) -> None:
    """Add a user; the password is read from stdin when it is not a terminal."""
    password = None if no_password else _read_password()
    actor = accounts.add_user(open_services(), username, role, org=org, password=password,
                              display_name=display_name)
    click.echo(f"added {actor.username} ({actor.role})")


@user.command("list")
@handles_errors
def user_list() -> None:
    for row in accounts.list_users(open_services()):
        flags = "" if row["active"] else " (disabled)"
        click.echo(f"{row['username']:20} {row['role']:8} {row['organisation']}{flags}")


@user.command("passwd")
@click.argument("username")
@handles_errors
def user_passwd(username: str) -> None:
    """Set a new password (stdin when not a terminal); the user's sessions end."""
    accounts.set_password(open_services(), username, _read_password("New password"))
    click.echo(f"password changed for {username}")


@cli.group()
def org() -> None:
    """Manage organisations (city → county → school)."""


@org.command("add")
@click.argument("name")
@click.option("--kind", type=click.Choice(["city", "county", "school", "other"]), required=True)
@click.option("--parent", help="Parent organisation: id, path or unique name.")
@handles_errors
def org_add(name: str, kind: str, parent: str | None) -> None:
    created = accounts.add_org(open_services(), name, kind, parent)
    click.echo(f"added {created['path']} (id {created['id']})")


@org.command("list")
@handles_errors
def org_list() -> None:
    for row in accounts.list_orgs(open_services()):
        click.echo(f"{'  ' * row['depth']}{row['name']} [{row['kind']}] id={row['id']}")


@cli.group()
def token() -> None:
    """Manage API tokens."""


@token.command("create")
@click.argument("username")
@click.option("--name", default="", help="What the token is for.")
@handles_errors
def token_create(username: str, name: str) -> None:
    """Print a new API token for USERNAME (shown once; only its hash is kept)."""
    click.echo(accounts.create_token(open_services(), username, name))


# -- vocabularies ---------------------------------------------------------------------------
@cli.group()
def vocab() -> None:
    """Inspect and extend the controlled vocabularies."""


@vocab.command("list")
@click.argument("scheme", required=False)
@handles_errors
def vocab_list(scheme: str | None) -> None:
    for name, data in vocabularies.list_vocabularies(open_services()).items():
        if scheme and name != scheme:
            continue
        click.echo(f"{name} ({data['label']})")
        for term in data["terms"]:
            aliases = f"  = {', '.join(term['aliases'])}" if term["aliases"] else ""
            click.echo(f"  {term['code']:12} {term['name']}{aliases}")


@vocab.command("add")
@click.argument("scheme")
@click.argument("name")
@click.option("--code", help="Stable ASCII code (generated when omitted).")
@click.option("--alias", "aliases", multiple=True, help="Another name; repeatable.")
@handles_errors
def vocab_add(scheme: str, name: str, code: str | None, aliases: tuple[str, ...]) -> None:
    term = vocabularies.create_term(open_services(), None, scheme, name, code=code, aliases=aliases)
    click.echo(f"added {scheme} {term['name']} ({term['code']})")


@vocab.command("alias")
@click.argument("scheme")
@click.argument("term")
@click.argument("alias")
@handles_errors
def vocab_alias(scheme: str, term: str, alias: str) -> None:
    """Teach SCHEME that ALIAS means TERM (e.g. `vocab alias edition 人教版 人民教育版`)."""
    found = vocabularies.create_alias(open_services(), None, scheme, term, alias)
    click.echo(f"{found['name']}: {', '.join(found['aliases'])}")


# -- bulk import ----------------------------------------------------------------------------
class _ImportProgress:
    """A progress bar on stderr when it is a terminal, else a counter line every few seconds;
    in a dry run, one line per file on stdout saying what it would get."""

    def __init__(self, dry_run: bool, quiet: bool) -> None:
        self.dry_run, self.quiet, self.bar, self.last = dry_run, quiet, None, 0.0

    def __call__(self, done: int, total: int, result: importer.FileResult | None) -> None:
        if result is None:
            if sys.stderr.isatty() and not self.dry_run:
                self.bar = click.progressbar(length=total, label="importing", file=sys.stderr,
                                             show_pos=True)
                self.bar.__enter__()
            return
        if self.dry_run and not self.quiet:
            shown = "; ".join(f"{k}={'、'.join(v) if isinstance(v, list) else v}"
                              for k, v in result.metadata.items())
            detail = shown if result.outcome == "imported" else \
                f"{result.outcome.upper()} {result.reason}: {result.message}"
            click.echo(f"{result.path}: {detail}")
        if self.bar is not None:
            self.bar.update(1)
        elif time.monotonic() - self.last > 2 or done == total:
            self.last = time.monotonic()
            click.echo(f"{done}/{total} files", err=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _import_summary(report: importer.ImportReport, note: str = "") -> None:
    skipped = ", ".join(f"{n} {k.split(':', 1)[1].replace('_', ' ')}"
                        for k, n in sorted(report.reasons.items()) if k.startswith("skipped:"))
    verb = "would import" if report.dry_run else "imported"
    click.echo(f"{verb} {report.imported}, skipped {report.skipped}"
               f"{f' ({skipped})' if skipped else ''}, failed {report.failed}, "
               f"ignored {report.ignored} junk files, {report.warning_count} warnings"
               f"{' (dry run: nothing was stored)' if report.dry_run else ''}{note}")
    listed_skips = report.skipped - report.reasons.get("skipped:already_imported", 0)
    for title, entries, count, cap in (("failed", report.failures, report.failed, 50),
                                       ("skipped", report.skips, listed_skips, 20),
                                       ("warnings", report.warnings, report.warning_count, 20)):
        if entries:
            click.echo(f"{title}:")
        for entry in entries[:cap]:
            reason = f"{entry['reason']}: " if entry.get("reason") else ""
            click.echo(f"  {entry['path']}: {reason}{entry['message']}")
        if count > min(cap, len(entries)):
            click.echo(f"  … and {count - min(cap, len(entries))} more (--json lists up to "
                       f"{importer.MAX_LISTED})")


@cli.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--org", help="File the resources under this organisation (id, path or name).")
@click.option("--as", "username", help="Import as this editor/admin (default: the first admin).")
@click.option("--status", type=click.Choice(["draft", "published"]), help="Default: published.")
@click.option("--visibility", type=click.Choice(["public", "organisation", "private"]),
              help="Default: public.")
@click.option("--csv", "csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Metadata sidecar: a path column plus field columns (see docs/import.md).")
@click.option("--dry-run", is_flag=True, help="Show what each file would get; store nothing.")
@click.option("--allow-duplicates", is_flag=True,
              help="File content already in the library again, with this path's metadata.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@handles_errors
def import_(paths: tuple[str, ...], org: str | None, username: str | None, status: str | None,
            visibility: str | None, csv_file: Path | None, dry_run: bool, allow_duplicates: bool,
            as_json: bool) -> None:
    """Bulk-import folder trees (小学/三年级/数学/人教版/上册/…). Resumable: a re-run skips
    what is already in. Exit 0: all imported or skipped; 1: some files failed."""
    services = open_services()
    actor = importer.import_actor(services, username)
    options = importer.ImportOptions(org=org, status=status, visibility=visibility, csv=csv_file,
                                     dry_run=dry_run, allow_duplicates=allow_duplicates)
    report, progress = importer.ImportReport(), _ImportProgress(dry_run, as_json)

    def show(note: str = "") -> None:
        if as_json:  # "finished": false tells an interrupted or stopped run
            click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        else:
            _import_summary(report, note)

    try:
        importer.import_tree(services, actor, paths, options=options, progress=progress,
                             report=report)
    except KeyboardInterrupt:
        progress.close()
        show("; INTERRUPTED: run the same command again to continue")
        sys.exit(130)
    except StorageError:
        progress.close()
        show("; STOPPED by a storage error")
        raise
    progress.close()
    show()
    sys.exit(EXIT_REFUSED if report.failed else 0)


def main() -> None:
    cli(prog_name="repo-server")


if __name__ == "__main__":
    main()
