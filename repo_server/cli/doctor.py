"""`repo-server doctor`: check configuration, connectivity, disk space and tools; say what to fix.

One line per finding, `ok`, `WARN` (works, but something is missing or risky) or `FAIL`
(something will not work), followed by the fix. Exit 0 when nothing FAILs, 1 otherwise;
`--json` gives the same as a list of objects. The checks themselves are in
services/diagnostics.py; the job queue's is here, because only the queue module knows Huey.
"""

from __future__ import annotations

import json
import re
import sys

import click

from repo_server.config import Settings
from repo_server.errors import ConfigError
from repo_server.services.diagnostics import (FAIL, OK, WARN, Check, catalog_services, check_blob_store,
                                              check_catalog, check_disk, check_index, check_jobs,
                                              check_mirrors, check_settings, check_tools, run_checks)
from repo_server.tasks import MediaQueue

from .base import cli

__all__ = ["doctor", "check_queue"]


def _queue_where(settings: Settings) -> str:
    if not settings.queue_url:
        return str(settings.queue_file)
    return re.sub(r"//[^@/]*@", "//***@", settings.queue_url)   # no password on the terminal


def check_queue(settings: Settings) -> Check:
    """The job queue answers (Redis: a real round trip; SQLite: the file opens)."""
    where = _queue_where(settings)
    try:
        pending = MediaQueue(settings).pending()
    except Exception as exc:  # noqa: BLE001  (redis, sqlite3, OS errors alike)
        fix = ("start Redis, or fix REPO_QUEUE_URL (host, port, password, database)" if settings.queue_url
               else f"make {settings.data_dir} writable by this user")
        return Check("queue", FAIL, f"cannot reach the job queue at {where}: {exc}", fix)
    return Check("queue", OK, f"{where}: {pending} jobs waiting")


def _checks(settings: Settings) -> tuple[list[Check], list[str]]:
    checks = run_checks([("settings", lambda: check_settings(settings)),
                         ("catalog", lambda: check_catalog(settings))])
    catalog_usable = checks[-1].level != FAIL
    opened: list = []   # the blob store, once opened, for the catalog checks' Services

    def blob_store() -> Check:
        check, store = check_blob_store(settings)
        opened.append(store)
        return check

    checks += run_checks([
        ("blob store", blob_store),
        ("queue", lambda: check_queue(settings)),
        ("disk", lambda: check_disk(settings)),
        ("tools", lambda: check_tools(settings)),
    ])
    if not catalog_usable:
        return checks, ["index", "jobs", "mirror (they need the catalog)"]
    svc = catalog_services(settings, opened[0] if opened else None)
    try:
        checks += run_checks([("index", lambda: check_index(svc)), ("jobs", lambda: check_jobs(svc)),
                              ("mirror", lambda: check_mirrors(svc))])
    finally:
        svc.close()
    return checks, []


def _line(check: Check) -> str:
    line = f"{check.level:<4}  {check.name:<10}  {check.detail}"
    return line + (f" — fix: {check.fix}" if check.fix and check.level != OK else "")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="The findings as JSON.")
def doctor(as_json: bool) -> None:
    """Check settings, catalog, blob store, queue, disk space, ffmpeg/LibreOffice/rsync, search
    index and mirror state; print what to fix. Exit 1 when anything FAILs."""
    skipped: list[str] = []
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        checks = [Check("settings", FAIL, exc.message,
                        "fix that variable (`repo-server config` lists every setting)")]
        skipped = ["everything else (the settings must parse first)"]
    else:
        checks, skipped = _checks(settings)
    failed = sum(c.level == FAIL for c in checks)
    if as_json:
        click.echo(json.dumps({"ok": not failed, "checks": [c.as_dict() for c in checks],
                               "skipped": skipped}, ensure_ascii=False, indent=2))
    else:
        for check in checks:
            click.echo(_line(check))
        if skipped:
            click.echo(f"not checked: {', '.join(skipped)}")
        warned = sum(c.level == WARN for c in checks)
        click.echo(f"{failed} FAIL, {warned} WARN" if failed or warned else "all ok")
    sys.exit(1 if failed else 0)
