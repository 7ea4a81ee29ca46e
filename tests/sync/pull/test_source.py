"""The upstream forms and the argv they give (rsync over ssh cannot be run against a real
sshd in this sandbox: its command line is checked here), and rsync's messages → outcomes."""

from __future__ import annotations

import shlex

import pytest

from repo_server.sync.pull import SyncFailure, parse_only, parse_upstream
from repo_server.sync.pull.rsync import RsyncResult, classify, parse_stats


def test_daemon_ssh_and_local_upstreams(tmp_path) -> None:
    daemon = parse_upstream("rsync://yixiao@county.example:8730/repo/")
    assert (daemon.kind, daemon.host, daemon.port, daemon.user) == ("daemon", "county.example", 8730, "yixiao")
    assert daemon.source("CURRENT") == "rsync://yixiao@county.example:8730/repo/CURRENT"
    assert daemon.transport_options(password_file=tmp_path / "pw", connect_timeout=30) == [
        "--contimeout=30", f"--password-file={tmp_path / 'pw'}"]

    ssh = parse_upstream("mirror@county.example:/srv/repo/mirror")
    assert ssh.kind == "ssh" and ssh.source("objects/ab") == "mirror@county.example:/srv/repo/mirror/objects/ab"
    option, command = ssh.transport_options(password_file=None, connect_timeout=20, ssh_command="ssh -i /k")
    argv = shlex.split(command)
    assert option == "-e" and argv[:3] == ["ssh", "-i", "/k"]
    assert "BatchMode=yes" in argv and "ConnectTimeout=20" in argv

    local = parse_upstream(str(tmp_path))
    assert local.kind == "local" and local.source("CURRENT") == f"{tmp_path}/CURRENT"
    assert local.transport_options(password_file=None, connect_timeout=1) == []
    for bad in ("rsync://host", "/no/such/disk", "ssh://host/path", ""):
        with pytest.raises(SyncFailure) as failure:
            parse_upstream(bad)
        assert failure.value.kind == "config"


@pytest.mark.parametrize("code, stderr, kind", [
    (5, "@ERROR: auth failed on module repo\nrsync error: error starting client-server protocol (code 5)", "config"),
    (5, "@ERROR: max connections (1) reached -- try again later\nrsync error: (code 5)", "retry"),
    (5, "@ERROR: Unknown module 'x'\n", "config"),
    (10, "The server is configured to refuse --checksum\nrsync error: syntax or usage error (code 10)", "config"),
    (10, "rsync: failed to connect to 127.0.0.1 (127.0.0.1): Connection refused (111)\n"
         "rsync error: error in socket IO (code 10)", "retry"),
    (30, "rsync error: timeout in data send/receive (code 30)", "retry"),
    (255, "Permission denied (publickey).\nrsync: connection unexpectedly closed", "config"),
    (2, "rsync: something else entirely", "failed"),
])
def test_rsync_messages_decide_retry_or_configuration(code, stderr, kind) -> None:
    assert classify(RsyncResult(code, stderr)).kind == kind


def test_stats_and_only_parsing() -> None:
    assert parse_stats("Total bytes sent: 1,234\nTotal bytes received: 5,678,901\n") == (1234, 5678901)
    assert parse_only(["subject=数学", "subject=语文", "tag=复习"]) == {"subject": ["数学", "语文"], "tag": ["复习"]}
    for bad in ("subject", "colour=red", "grade="):
        with pytest.raises(SyncFailure):
            parse_only([bad])
