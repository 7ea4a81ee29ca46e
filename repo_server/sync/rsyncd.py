"""Serving the mirror tree with rsync's daemon: the schools' accounts and the rsyncd.conf.

**Accounts.** Each school (or county) that syncs gets an rsync user of its own with a random
secret, kept in one secrets file, <data dir>/rsyncd.secrets (`name:secret` lines, mode
0600: rsync refuses a secrets file others can read). `repo-server mirror add-school NAME`
adds one and prints the secret once, for the school's password file; `remove-school`
revokes it. The file is the only list: rsync reads it on every connection, and the
`auth users` line is generated from it. Accounts are not catalog users: a school server
syncing at 3 a.m. needs no web login, and revoking its rsync access must not touch anyone's
account (docs/mirrors.md).

**The module** is read-only (uploads refused), chrooted, runs as nobody, hides the
publisher's `.state/`, refuses the options that would let a client delete (`delete*`,
`remove-source-files`) or make this 2-core server hash 250 GB for it (`checksum`: the
downstream verifies sha256 itself), allows only REPO_RSYNC_HOSTS_ALLOW and at most
REPO_RSYNC_MAX_CONNECTIONS clients, never looks up client names (slow DNS in a village
stalls every connection), and does not compress objects (media is compressed already;
objects have no suffix for rsync's own list to recognise, hence the 64-character pattern;
measured, a client's -z compresses them all the same, which repo-sync uses for texts only).
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from repo_server.config import Settings
from repo_server.durable import write_atomic
from repo_server.errors import ConfigError, InvalidInput, NotFound

__all__ = ["render_rsyncd_conf", "read_schools", "add_school", "remove_school", "MODULE"]

MODULE = "repo"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_LOG_FORMAT = "%t %a %u %m %o %f %l %b"


def read_schools(path: Path) -> dict[str, str]:
    """School name → secret, from the secrets file ({} when there is none yet)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    schools = {}
    for line in text.splitlines():
        name, sep, secret = line.partition(":")
        if sep and name.strip() and not name.startswith("#"):
            schools[name.strip()] = secret.strip()
    return schools


def _write(path: Path, schools: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, "".join(f"{name}:{secret}\n" for name, secret in sorted(schools.items())),
                 mode=0o600)


def add_school(path: Path, name: str) -> str:
    """Add a school's rsync account; returns its new secret (shown once)."""
    if not _NAME.match(name):
        raise InvalidInput(f"{name!r} cannot be an rsync user name: use 1 to 64 letters, digits, "
                           "'.', '_' or '-' (e.g. the school's code, yixiao-0301)", field="name")
    schools = read_schools(path)
    if name in schools:
        raise InvalidInput(f"school {name} already has an account (remove-school first to "
                           "issue a new secret)", field="name")
    schools[name] = secrets.token_urlsafe(24)
    _write(path, schools)
    return schools[name]


def remove_school(path: Path, name: str) -> None:
    schools = read_schools(path)
    if schools.pop(name, None) is None:
        raise NotFound(f"no school account {name!r}")
    _write(path, schools)


def render_rsyncd_conf(settings: Settings, *, module: str = MODULE, port: int | None = None,
                       address: str | None = None, timeout: int = 600,
                       log_file: Path | None = None) -> str:
    """A complete rsyncd.conf serving the mirror tree as one read-only module."""
    users = sorted(read_schools(settings.rsync_secrets))
    if not users:
        raise ConfigError("no school has an rsync account yet: run `repo-server mirror add-school "
                          "NAME` first (a module without accounts would be open to anyone)")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", module):
        raise InvalidInput(f"module name {module!r}: letters, digits, '.', '_' and '-' only", field="module")
    data_dir = settings.data_dir.resolve()
    hosts = " ".join(settings.rsync_hosts_allow.split())
    if not hosts:
        raise ConfigError("REPO_RSYNC_HOSTS_ALLOW is empty: name the addresses schools sync from")
    lines = [
        "# rsyncd.conf for the repo-server mirror tree: made by `repo-server mirror rsyncd-conf`.",
        "# Run: rsync --daemon --no-detach --config=THIS_FILE (or Debian's rsync.service with",
        "# this file as /etc/rsyncd.conf). Regenerate after add-school/remove-school.",
        *([f"port = {port}"] if port else []),
        *([f"address = {address}"] if address else []),
        f"lock file = {data_dir / 'rsyncd.lock'}",
        f"log file = {log_file or data_dir / 'rsyncd.log'}",
        "reverse lookup = no",
        "",
        f"[{module}]",
        f"    comment = repo-server mirror {' '.join(settings.mirror_name.split())}".rstrip(),
        f"    path = {settings.mirror_dir.resolve()}",
        "    read only = yes",
        "    write only = no",
        "    list = yes",
        "    use chroot = yes",
        "    numeric ids = yes",
        "    uid = nobody",
        "    gid = nogroup",
        f"    auth users = {', '.join(users)}",
        f"    secrets file = {settings.rsync_secrets.resolve()}",
        "    strict modes = yes",
        f"    hosts allow = {hosts}",
        "    hosts deny = *",
        f"    max connections = {settings.rsync_max_connections}",
        f"    timeout = {timeout}",
        "    refuse options = delete* remove-source-files remove-sent-files checksum",
        "    exclude = /.state/",
        f"    dont compress = {'?' * 64}",
        "    transfer logging = yes",
        f"    log format = {_LOG_FORMAT}",
    ]
    return "\n".join(lines) + "\n"
