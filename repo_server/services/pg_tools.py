"""PostgreSQL's own tools for catalog backups: `pg_dump --format=custom` and `pg_restore`.

The dump is PostgreSQL's, not ours, so an operator can always restore it by hand. The
tools come from Debian's `postgresql-client` package, whose major version must be at least
the server's (pg_dump refuses to dump a newer server) and, for restoring, at least that of
the pg_dump that wrote the archive (an older pg_restore cannot read a newer archive format).
Both are checked before any work starts, with a message saying what to install.

The password never appears on a command line (where `ps` would show it): it goes in
PGPASSWORD, the rest of the SQLAlchemy URL becomes a libpq connection URL.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from repo_server.errors import ConfigError, RepoError

__all__ = ["PgToolError", "libpq_target", "tool_version", "check_dump_tools", "check_restore_tools",
           "run_pg_dump", "run_pg_restore", "archive_dumped_by"]

_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")
_TIMEOUT_S = 24 * 3600   # a dump of a very large catalog takes minutes; never hang forever


class PgToolError(RepoError):
    """pg_dump or pg_restore is missing, too old, or failed."""

    code = "pg_tool"


def libpq_target(sqlalchemy_url: str) -> tuple[str, dict[str, str]]:
    """(libpq URL without the password, environment carrying it) for a catalog URL."""
    url = make_url(sqlalchemy_url)
    if not url.drivername.startswith("postgresql"):
        raise ConfigError(f"not a PostgreSQL catalog: {url.drivername}")
    env = {"PGPASSWORD": url.password} if url.password else {}
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def tool_version(tool: str) -> tuple[int, int]:
    """(major, minor) of pg_dump/pg_restore on PATH; PgToolError naming the package when absent."""
    path = shutil.which(tool)
    if path is None:
        raise PgToolError(f"{tool} is not installed: it is needed for PostgreSQL catalogs "
                          "(Debian: apt-get install postgresql-client, the same major version "
                          "as the server or newer)")
    out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout
    match = _VERSION.search(out)
    if not match:
        raise PgToolError(f"cannot read the version of {path}: {out.strip()!r}")
    return int(match.group(1)), int(match.group(2) or 0)


def _server_major(server_version_num: int) -> int:
    return server_version_num // 10000


def check_dump_tools(server_version_num: int) -> tuple[int, int]:
    """pg_dump's version, refusing one older than the server (it could not dump it)."""
    version = tool_version("pg_dump")
    server = _server_major(server_version_num)
    if version[0] < server:
        raise PgToolError(f"pg_dump {version[0]} cannot dump a PostgreSQL {server} server: install "
                          f"postgresql-client-{server} (or newer) and put its pg_dump on PATH")
    return version


def check_restore_tools(dumped_by: tuple[int, int] | None) -> tuple[int, int]:
    """pg_restore's version, refusing one older than the pg_dump that wrote the archive."""
    version = tool_version("pg_restore")
    if dumped_by is not None and version[0] < dumped_by[0]:
        raise PgToolError(f"the backup was written by pg_dump {dumped_by[0]}.{dumped_by[1]}; pg_restore "
                          f"{version[0]}.{version[1]} cannot read it: install postgresql-client-"
                          f"{dumped_by[0]} (or newer)")
    return version


def run_pg_dump(sqlalchemy_url: str, target: Path, *, snapshot: str | None = None) -> None:
    """Dump the whole database into `target` (custom format, compressed), optionally inside
    an exported snapshot so the dump matches what the caller reads in that transaction."""
    conninfo, env = libpq_target(sqlalchemy_url)
    argv = [shutil.which("pg_dump") or "pg_dump", "--format=custom", "--no-password",
            f"--file={target}", f"--dbname={conninfo}"]
    if snapshot:
        argv.append(f"--snapshot={snapshot}")
    _run(argv, env, "pg_dump")


def run_pg_restore(sqlalchemy_url: str, archive: Path) -> None:
    """Restore an archive into an (empty) database. Owners and grants are not restored, so
    the archive loads into a database owned by another role on another server."""
    conninfo, env = libpq_target(sqlalchemy_url)
    argv = [shutil.which("pg_restore") or "pg_restore", "--no-owner", "--no-privileges",
            "--exit-on-error", "--single-transaction", "--no-password", f"--dbname={conninfo}",
            str(archive)]
    _run(argv, env, "pg_restore")


def archive_dumped_by(archive: Path) -> tuple[int, int] | None:
    """The pg_dump version recorded in a custom-format archive's header (`pg_restore --list`)."""
    path = shutil.which("pg_restore")
    if path is None:
        return None
    out = subprocess.run([path, "--list", str(archive)], capture_output=True, text=True,
                         timeout=600).stdout
    match = re.search(r"Dumped by pg_dump version:\s*(\d+)(?:\.(\d+))?", out)
    return (int(match.group(1)), int(match.group(2) or 0)) if match else None


def _run(argv: list[str], env: dict[str, str], tool: str) -> None:
    try:
        done = subprocess.run(argv, env={**os.environ, **env}, capture_output=True, text=True,
                              timeout=_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise PgToolError(f"{tool} did not finish within {_TIMEOUT_S // 3600} h") from None
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip()[-2000:]
        raise PgToolError(f"{tool} failed (exit {done.returncode}): {message}")
