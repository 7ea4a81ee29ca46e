"""The generated rsyncd.conf, run by a real rsync daemon on 127.0.0.1: schools with their
secret read the tree, nobody else does, nobody writes, and the limits hold."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import pytest

from repo_server.errors import ConfigError, InvalidInput
from repo_server.sync import publish
from repo_server.sync.rsyncd import add_school, read_schools, remove_school, render_rsyncd_conf
from tests.support import free_port

pytestmark = [pytest.mark.parametrize("settings", ["sqlite"], indirect=True),
              pytest.mark.parametrize("services", ["local"], indirect=True)]

RSYNC = shutil.which("rsync")


class Daemon:
    def __init__(self, services, tmp_path: Path) -> None:
        assert RSYNC, "rsync is not installed (apt-get install rsync; .ci/run does)"
        self.services, self.tmp, self.port = services, tmp_path, free_port()
        self.conf = tmp_path / "rsyncd.conf"
        self.process: subprocess.Popen | None = None
        self.secret = ""

    def configure(self, **settings) -> None:
        """(Re)write the conf: the daemon reads it again on every connection."""
        effective = replace(self.services.settings, **settings)
        self.conf.write_text(render_rsyncd_conf(effective, port=self.port, timeout=60))

    def start(self) -> None:
        self.configure()
        self.process = subprocess.Popen([RSYNC, "--daemon", "--no-detach", f"--config={self.conf}"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        pytest.fail("the rsync daemon did not start:\n" + self.log())

    def log(self) -> str:
        path = self.services.settings.data_dir / "rsyncd.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def password_file(self, secret: str) -> Path:
        path = self.tmp / f"pw-{abs(hash(secret))}"
        path.write_text(secret + "\n")
        path.chmod(0o600)       # the client refuses a password file others can read
        return path

    def rsync(self, user: str, secret: str, *options: str, dest: Path | None = None,
              push: Path | None = None, source: str = "") -> subprocess.CompletedProcess:
        """List the module (no dest), fetch `source` into `dest`, or push a file."""
        url = f"rsync://{user}@127.0.0.1:{self.port}/repo/{source}"
        argv = [RSYNC, f"--password-file={self.password_file(secret)}", *options]
        argv += [str(push), url] if push else [url, *([str(dest) + "/"] if dest else [])]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def daemon(services, library, tmp_path) -> Iterator[Daemon]:
    library.pdf("第1课.pdf")
    publish(services)
    server = Daemon(services, tmp_path)
    server.secret = add_school(services.settings.rsync_secrets, "yixiao-0301")
    server.start()
    yield server
    server.stop()


def test_a_school_with_its_secret_lists_and_fetches_the_tree(daemon, services, tmp_path) -> None:
    listing = daemon.rsync("yixiao-0301", daemon.secret)
    assert listing.returncode == 0, listing.stderr
    names = {line.split()[-1] for line in listing.stdout.splitlines()}
    assert {"CURRENT", "manifests", "objects"} <= names and ".state" not in names
    fetched = daemon.rsync("yixiao-0301", daemon.secret, "-a", dest=tmp_path / "copy")
    assert fetched.returncode == 0, fetched.stderr
    tree = services.settings.mirror_dir
    assert (tmp_path / "copy" / "CURRENT").read_bytes() == (tree / "CURRENT").read_bytes()
    assert not (tmp_path / "copy" / ".state").exists()
    assert sorted(p.name for p in (tmp_path / "copy" / "objects").rglob("*") if p.is_file()) == \
        sorted(p.name for p in (tree / "objects").rglob("*") if p.is_file())


def test_wrong_or_unknown_credentials_are_refused(daemon) -> None:
    for user, secret in (("yixiao-0301", "not-the-secret"), ("erxiao", daemon.secret)):
        refused = daemon.rsync(user, secret)
        assert refused.returncode == 5 and "auth failed" in refused.stderr


def test_the_module_is_read_only_and_refuses_dangerous_options(daemon, services, tmp_path) -> None:
    upload = tmp_path / "evil.txt"
    upload.write_text("x")
    pushed = daemon.rsync("yixiao-0301", daemon.secret, push=upload)
    assert pushed.returncode != 0 and "read only" in pushed.stderr
    assert not (services.settings.mirror_dir / "evil.txt").exists()
    hashing = daemon.rsync("yixiao-0301", daemon.secret, "-rc", dest=tmp_path / "c")
    assert hashing.returncode != 0 and "refuse" in hashing.stderr


def test_revoked_schools_and_other_addresses_are_turned_away(daemon, services) -> None:
    other = add_school(services.settings.rsync_secrets, "erxiao")
    assert daemon.rsync("erxiao", other).returncode == 5       # not in auth users until regenerated
    daemon.configure()
    assert daemon.rsync("erxiao", other).returncode == 0
    remove_school(services.settings.rsync_secrets, "erxiao")
    daemon.configure()
    assert daemon.rsync("erxiao", other).returncode == 5
    daemon.configure(rsync_hosts_allow="192.0.2.1")
    denied = daemon.rsync("yixiao-0301", daemon.secret)
    assert denied.returncode == 5 and "access denied" in denied.stderr


def test_max_connections_turns_the_next_school_away(daemon, services, tmp_path) -> None:
    daemon.configure(rsync_max_connections=1)
    # The manifest (~30 KB of vocabulary) at 1 KB/s holds the only slot for half a minute.
    slow = subprocess.Popen(
        [RSYNC, f"--password-file={daemon.password_file(daemon.secret)}", "-a", "--bwlimit=1",
         f"rsync://yixiao-0301@127.0.0.1:{daemon.port}/repo/manifests/", str(tmp_path / "slow") + "/"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not (tmp_path / "slow").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        turned_away = daemon.rsync("yixiao-0301", daemon.secret)
        assert turned_away.returncode == 5 and "max connections" in turned_away.stderr
    finally:
        slow.terminate()
        slow.wait(timeout=10)


def test_accounts_and_conf_refuse_what_would_open_the_module(services) -> None:
    with pytest.raises(ConfigError, match="add-school"):
        render_rsyncd_conf(services.settings)
    with pytest.raises(InvalidInput):
        add_school(services.settings.rsync_secrets, "一小")     # rsync user names are ASCII
    add_school(services.settings.rsync_secrets, "yixiao")
    with pytest.raises(InvalidInput, match="already"):
        add_school(services.settings.rsync_secrets, "yixiao")
    assert oct(services.settings.rsync_secrets.stat().st_mode)[-3:] == "600"
    assert list(read_schools(services.settings.rsync_secrets)) == ["yixiao"]
    with pytest.raises(ConfigError, match="HOSTS_ALLOW"):
        render_rsyncd_conf(replace(services.settings, rsync_hosts_allow=" "))
