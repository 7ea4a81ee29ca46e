"""`repo-server import`: bulk import of an existing library (docs/import.md)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from repo_server.errors import StorageError
from repo_server.services import importer

from .base import EXIT_REFUSED, cli, handles_errors, open_services

__all__ = ["import_"]


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
