"""rsync over ssh against a real sshd on 127.0.0.1: a generated host key, an authorized key
for the current user, no ForceCommand; the upstream written user@127.0.0.1:path and the port,
key and known_hosts given with --ssh. A key the server does not know is a configuration
error (78), never a retry."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from repo_server.sync import publish
from tests.support import free_port

from .conftest import repo_sync, status

SSHD = "/usr/sbin/sshd"
pytestmark = [pytest.mark.parametrize("settings", ["sqlite"], indirect=True),
              pytest.mark.parametrize("services", ["local"], indirect=True)]


@pytest.fixture(autouse=True)
def _ssh_installed() -> None:
    """A missing sshd fails loudly like every other tool the suite needs (never a silent skip)."""
    if not (os.path.exists(SSHD) and shutil.which("ssh-keygen") and shutil.which("rsync")):
        pytest.fail("openssh-server and rsync are needed for the ssh transport tests: "
                    "apt-get install openssh-server rsync (scripts/bootstrap --test and .ci/run do)", pytrace=False)


class Sshd:
    def __init__(self, root: Path) -> None:
        self.root, self.port, self.user = root, free_port(), getpass.getuser()
        root.mkdir()
        for name in ("host_key", "client_key", "stranger_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(root / name)],
                           check=True, timeout=30)
        (root / "authorized_keys").write_text((root / "client_key.pub").read_text())
        (root / "known_hosts").write_text(f"[127.0.0.1]:{self.port} " + (root / "host_key.pub").read_text())
        self.config = root / "sshd_config"
        self.config.write_text("\n".join([
            "ListenAddress 127.0.0.1", f"HostKey {root / 'host_key'}", f"PidFile {root / 'sshd.pid'}",
            f"AuthorizedKeysFile {root / 'authorized_keys'}", "PubkeyAuthentication yes",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password",
            "StrictModes no", "UsePAM no", "LoginGraceTime 30", "MaxStartups 20", "LogLevel VERBOSE", ""]))
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        Path("/run/sshd").mkdir(exist_ok=True)      # privilege separation directory
        self.log = open(self.root / "sshd.log", "wb")
        self.process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config), "-p", str(self.port)],
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail("sshd exited:\n" + (self.root / "sshd.log").read_text(errors="replace"))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        pytest.fail("sshd did not listen within 15 s")

    def ssh_command(self, key: str = "client_key") -> str:
        return (f"ssh -i {self.root / key} -o IdentitiesOnly=yes -o UserKnownHostsFile={self.root / 'known_hosts'} "
                f"-o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -p {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            self.process.wait(10)
        self.log.close()


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Sshd]:
    server = Sshd(tmp_path / "sshd")
    server.start()
    yield server
    server.stop()


def test_a_sync_over_ssh_and_a_refused_key(services, library, sshd, schools) -> None:
    first = library.pdf()
    publish(services)
    upstream = f"{sshd.user}@127.0.0.1:{services.settings.mirror_dir}"
    school = schools()
    full = repo_sync(school.data_dir, upstream, "--ssh", sshd.ssh_command())
    assert full.returncode == 0, full.stdout + full.stderr
    assert set(school.live()) == {first["id"]}
    assert status(school.data_dir)["result"] == "ok" and status(school.data_dir)["bytes"] > 0

    second = library.pdf("第4课 平行四边形.pdf")
    publish(services)
    incremental = repo_sync(school.data_dir, upstream, "--ssh", sshd.ssh_command())
    assert incremental.returncode == 0, incremental.stdout + incremental.stderr
    school.close()
    assert set(school.live()) == {first["id"], second["id"]}

    stranger = schools("stranger")
    refused = repo_sync(stranger.data_dir, upstream, "--ssh", sshd.ssh_command("stranger_key"))
    assert refused.returncode == 78, refused.stdout + refused.stderr
    assert "permission denied (publickey" in refused.stdout.lower()
    assert status(stranger.data_dir)["result"] == "config"
    assert not (stranger.data_dir / "sync" / "CURRENT").exists()
