"""The upstream a mirror syncs from, and the rsync command lines that reach it.

Three spellings (scripts/repo-sync --upstream):

    rsync://[user@]host[:port]/module[/path]   an rsync daemon (password: --password-file
                                                or RSYNC_PASSWORD, as rsync itself reads them)
    [user@]host:path                            rsync over ssh (keys, BatchMode: never a prompt)
    /media/usb/repo-mirror                      a local path: a USB disk seeding a school

Every form turns a path relative to the tree's root ("CURRENT", "objects/") into what rsync
takes as its source argument; `transport_options` adds what the transport needs.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from .errors import SyncFailure

__all__ = ["Upstream", "parse_upstream"]

_DAEMON = re.compile(r"^rsync://(?:(?P<user>[^@/]+)@)?(?P<host>\[[^\]]+\]|[^:/]+)(?::(?P<port>\d+))?/(?P<path>[^/].*)$")
_SSH = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>[^:/]+):(?P<path>.*)$")


@dataclass(frozen=True)
class Upstream:
    kind: str                 # "daemon", "ssh" or "local"
    spec: str                 # as given, for messages and the status file
    base: str                 # the tree's root as an rsync source, ending in "/"
    host: str = ""
    port: int | None = None
    user: str = ""

    def source(self, relative: str) -> str:
        """rsync's source argument for a path inside the tree ("" = the root)."""
        return self.base + relative.lstrip("/")

    def transport_options(self, *, password_file: Path | None, connect_timeout: int,
                          ssh_command: str = "ssh") -> list[str]:
        """Options the transport needs: the daemon's password file and connect timeout, the
        ssh command (never prompting, with its own connect timeout), nothing for a path."""
        if self.kind == "daemon":
            options = [f"--contimeout={connect_timeout}"]
            if password_file is not None:
                options.append(f"--password-file={password_file}")
            return options
        if self.kind == "ssh":
            ssh = shlex.split(ssh_command) + ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={connect_timeout}",
                                              "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4"]
            if self.port:
                ssh += ["-p", str(self.port)]
            return ["-e", shlex.join(ssh)]
        return []


def parse_upstream(spec: str) -> Upstream:
    """An Upstream from --upstream; SyncFailure("config") when it is none of the three forms."""
    text = spec.strip()
    if text.startswith("rsync://"):
        match = _DAEMON.match(text)
        if not match:
            raise SyncFailure("config", f"--upstream {spec!r}: expected rsync://[user@]host[:port]/module")
        user, host, port = match["user"] or "", match["host"], match["port"]
        base = f"rsync://{user + '@' if user else ''}{host}{':' + port if port else ''}/{match['path'].rstrip('/')}/"
        return Upstream("daemon", spec, base, host=host, port=int(port) if port else None, user=user)
    if text.startswith("ssh://"):
        raise SyncFailure("config", f"--upstream {spec!r}: write rsync over ssh as user@host:path")
    match = _SSH.match(text)
    if match and not text.startswith(("/", ".", "~")):
        user, host = match["user"] or "", match["host"]
        path = match["path"].rstrip("/") or "."
        return Upstream("ssh", spec, f"{user + '@' if user else ''}{host}:{path}/", host=host, user=user)
    if not text:
        raise SyncFailure("config", "--upstream is empty")
    path = Path(text).expanduser()
    if not path.is_dir():
        raise SyncFailure("config", f"--upstream {spec!r}: no such directory (a USB disk not mounted?)")
    return Upstream("local", spec, str(path.resolve()) + "/")
