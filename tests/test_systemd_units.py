"""The systemd units in deploy/systemd/: valid for systemd (`systemd-analyze verify`), hardened
the way docs/deploy.md says, and their commands really do what the units promise when run
as the units run them — graceful stop within TimeoutStopSec, exit codes the units treat as
success, the rsync daemon serving schools without root.

systemd itself does not run in this container, so the units are not started by systemd;
each ExecStart is run with the unit's Environment= and signals instead.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import pytest
import requests

from repo_server.config import describe
from repo_server.sync import publish
from repo_server.sync.rsyncd import add_school, render_rsyncd_conf
from tests.support import free_port
from tests.sync.conftest import Library, publisher_lock

ROOT = Path(__file__).resolve().parents[1]
UNITS = ROOT / "deploy" / "systemd"
SERVICES = sorted(UNITS.glob("*.service"))
TIMERS = sorted(UNITS.glob("*.timer"))
INSTALLED = {"/opt/repo-server/.venv/bin/repo-server": str(ROOT / ".venv" / "bin" / "repo-server"),
             "/opt/repo-server/scripts/repo-sync": str(ROOT / "scripts" / "repo-sync")}


def parse_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """section → [(key, value)] in order; keys may repeat (Environment=), as systemd allows."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        key, _, value = line.partition("=")
        assert current is not None, f"{path.name}: {line!r} outside a section"
        current.append((key.strip(), value.strip()))
    return sections


def values(path: Path, key: str, section: str = "Service") -> list[str]:
    return [v for k, v in parse_unit(path).get(section, []) if k == key]


def value(path: Path, key: str, section: str = "Service") -> str:
    found = values(path, key, section)
    assert len(found) == 1, f"{path.name}: expected one {key}=, found {found}"
    return found[0]


def templated(directory: Path) -> list[Path]:
    """Copies of the units whose programs point at this checkout instead of /opt/repo-server."""
    copies = []
    for unit in SERVICES + TIMERS:
        text = unit.read_text()
        for installed, here in INSTALLED.items():
            text = text.replace(installed, here)
        (directory / unit.name).write_text(text)
        copies.append(directory / unit.name)
    return copies


def systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.fail("systemd-analyze is missing: install systemd (apt-get install systemd) to verify "
                    "the units in deploy/systemd/", pytrace=False)
    return path


def verify(paths: list[Path]) -> subprocess.CompletedProcess:
    return subprocess.run([systemd_analyze(), "verify", "--man=no", *map(str, paths)],
                          capture_output=True, text=True, timeout=120)


def exec_start(unit: Path) -> list[str]:
    argv = shlex.split(value(unit, "ExecStart"))
    return [INSTALLED.get(argv[0], argv[0]), *argv[1:]]


def unit_environment(unit: Path) -> dict[str, str]:
    env = {}
    for line in values(unit, "Environment"):
        for item in shlex.split(line):
            key, _, val = item.partition("=")
            env[key] = val
    return env


def seconds(text: str) -> float:
    number, unit = text[:-1] if text[-1] in "sm" else text, text[-1] if text[-1] in "sm" else "s"
    return float(number) * (60 if unit == "m" else 1)


# -- systemd's own check ---------------------------------------------------------------------
def test_every_unit_passes_systemd_analyze_verify(tmp_path) -> None:
    assert len(SERVICES) >= 7 and len(TIMERS) >= 4
    result = verify(templated(tmp_path))
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stdout + result.stderr


def test_verify_catches_a_broken_unit(tmp_path) -> None:
    """The check above can fail: a typo and a missing program are reported."""
    broken = tmp_path / "broken.service"
    broken.write_text("[Service]\nExecStart=/nonexistent/repo-server serve\nKillMode=bogus\n")
    result = verify([broken])
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "not executable" in output and "kill mode" in output


# -- what the units promise --------------------------------------------------------------------
@pytest.mark.parametrize("unit", SERVICES, ids=lambda p: p.name)
def test_services_are_hardened_and_write_only_the_data_dir(unit) -> None:
    assert value(unit, "NoNewPrivileges") == "yes"
    assert value(unit, "ProtectSystem") == "strict"
    assert value(unit, "ReadWritePaths").split()[0] == "/srv/repo-server"
    assert value(unit, "PrivateTmp") == "yes" and value(unit, "ProtectHome") == "yes"
    assert value(unit, "User") == "repo-server"
    assert value(unit, "SystemCallArchitectures") == "native"


def test_long_running_services_restart_and_stop_gracefully() -> None:
    for name in ("repo-server-web.service", "repo-server-worker.service", "repo-server-rsyncd.service"):
        assert value(UNITS / name, "Restart") == "on-failure", name
    for name in ("repo-server-web.service", "repo-server-worker.service"):
        assert value(UNITS / name, "KillSignal") == "SIGTERM" and value(UNITS / name, "KillMode") == "mixed"
    assert unit_environment(UNITS / "repo-server-web.service")["REPO_EMBEDDED_WORKER"] == "false"


def test_timers_start_their_service_and_retry_later_is_not_a_failure() -> None:
    for timer in TIMERS:
        assert (UNITS / timer.name.replace(".timer", ".service")).is_file(), timer.name
        assert values(timer, "OnCalendar", "Timer") and value(timer, "Persistent", "Timer") == "true"
    for name in ("repo-sync.service", "repo-server-mirror-publish.service", "repo-server-mirror-full.service"):
        unit = UNITS / name
        assert value(unit, "Type") == "oneshot" and value(unit, "SuccessExitStatus") == "75", name
        assert not values(unit, "Restart"), f"{name}: the timer retries; 78 and 1 must stay failures"


def test_the_environment_example_names_only_real_settings() -> None:
    declared = {info.env for info in describe()}
    lines = [line for line in (ROOT / "deploy" / "env.example").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    keys = {line.split("=", 1)[0] for line in lines}
    assert keys <= declared, keys - declared
    assert "REPO_EMBEDDED_WORKER" not in keys      # it would override the web unit's false
    assert {"REPO_DATA_DIR", "REPO_DATABASE_URL", "REPO_SECRET_KEY", "REPO_QUEUE_URL"} <= keys


# -- the commands, run as the units run them ------------------------------------------------------
def run_env(services, unit: Path, **extra: str) -> dict[str, str]:
    settings = services.settings
    return {**os.environ, **unit_environment(unit), "REPO_DATA_DIR": str(settings.data_dir),
            "REPO_DATABASE_URL": settings.database_url, "REPO_SECRET_KEY": "test-secret",
            "REPO_WORKERS": "1", "REPO_THREADS": "4", "REPO_LOG_LEVEL": "warning",
            "HOME": str(settings.data_dir), "XDG_CACHE_HOME": str(settings.data_dir / "cache"), **extra}


def stop_within(process: subprocess.Popen, unit: Path) -> int:
    process.send_signal(getattr(signal, value(unit, "KillSignal")))
    try:
        return process.wait(timeout=seconds(value(unit, "TimeoutStopSec")))
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"{unit.name}: did not stop within TimeoutStopSec")


def children(pid: int) -> list[str]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            for child in (task / "children").read_text().split():
                found.append(Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode())
        except FileNotFoundError:     # a thread or a child that ended meanwhile
            continue
    return found


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_the_web_unit_serves_without_an_embedded_worker_and_stops_gracefully(services, tmp_path) -> None:
    unit = UNITS / "repo-server-web.service"
    port = free_port()
    log = open(tmp_path / "web.log", "wb")
    process = subprocess.Popen(exec_start(unit), env=run_env(services, unit, REPO_HOST="127.0.0.1",
                                                               REPO_PORT=str(port)),
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "web.log").read_text()
            time.sleep(0.1)
        assert children(process.pid) and not any(" worker" in c for c in children(process.pid))
        assert stop_within(process, unit) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_the_worker_unit_starts_and_stops_gracefully(services, tmp_path) -> None:
    unit = UNITS / "repo-server-worker.service"
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(exec_start(unit), env=run_env(services, unit), stdout=log,
                                   stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while "media worker:" not in log_path.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        assert stop_within(process, unit) == 0, log_path.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_publish_exit_codes_match_what_the_unit_counts_as_success(services, world) -> None:
    unit = UNITS / "repo-server-mirror-publish.service"
    success = {0, *map(int, value(unit, "SuccessExitStatus").split())}
    Library(services, world).pdf("第1课.pdf")
    first = subprocess.run(exec_start(unit), env=run_env(services, unit), capture_output=True, text=True, timeout=120)
    assert first.returncode == 0 and "serial     1" in first.stdout, first.stderr
    with publisher_lock(services.settings.mirror_dir):       # a publish still running
        busy = subprocess.run(exec_start(unit), env=run_env(services, unit), capture_output=True, text=True,
                              timeout=120)
    assert busy.returncode == 75 and busy.returncode in success, busy.stderr


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_repo_sync_without_an_upstream_fails_the_unit(services, tmp_path) -> None:
    unit = UNITS / "repo-sync.service"
    argv = [a.replace("/srv/repo-server", str(tmp_path / "school")) for a in exec_start(unit)]
    result = subprocess.run(argv, env=run_env(services, unit), capture_output=True, text=True, timeout=120)
    assert result.returncode == 78, result.stderr      # fix the configuration: not retried as success
    assert 78 not in {0, *map(int, value(unit, "SuccessExitStatus").split())}


# -- the rsync daemon without root ------------------------------------------------------------
@pytest.fixture
def world_readable_dir() -> Iterator[Path]:
    """A directory the unprivileged daemon can reach (pytest's tmp_path is root-only)."""
    path = Path(tempfile.mkdtemp(prefix="repo-rsyncd-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def privileged_free_port() -> int:
    for port in range(700, 1000):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    pytest.fail("no free port below 1024 on 127.0.0.1")


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_the_rsyncd_unit_serves_schools_as_an_unprivileged_user(services, world, world_readable_dir) -> None:
    """As the unit runs it: a non-root user, only the unit's ambient capabilities, the secrets
    file owned by that user; a school fetches the tree from a port below 1024."""
    if os.geteuid() != 0:
        pytest.fail("this test switches to an unprivileged user with setpriv: run the suite as root "
                    "(as .ci/run does)", pytrace=False)
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv is missing (apt-get install util-linux)"
    unit = UNITS / "repo-server-rsyncd.service"
    caps = [c.lower().removeprefix("cap_") for c in value(unit, "AmbientCapabilities").split()]
    assert caps == [c.lower().removeprefix("cap_") for c in value(unit, "CapabilityBoundingSet").split()]

    data = world_readable_dir / "data"
    settings = replace(services.settings, data_dir=data)
    Library(services, world).pdf("第1课.pdf")
    publish(services, root=settings.mirror_dir)
    secret = add_school(settings.rsync_secrets, "yixiao-0301")
    port = privileged_free_port()
    conf = world_readable_dir / "rsyncd.conf"
    conf.write_text(render_rsyncd_conf(settings, port=port, address="127.0.0.1", timeout=60))
    service_user = 4242     # stands for repo-server: owns the data dir, is not root, is not nobody
    for path in [data, *data.rglob("*")]:
        os.chown(path, service_user, service_user, follow_symlinks=False)
    data.chmod(0o750)
    (data / "rsyncd.secrets").chmod(0o600)

    argv = [a.replace("/etc/repo-server/rsyncd.conf", str(conf)) for a in exec_start(unit)]
    wrapped = [setpriv, f"--reuid={service_user}", f"--regid={service_user}", "--clear-groups", "--no-new-privs",
               "--inh-caps=-all," + ",".join(f"+{c}" for c in caps),
               "--ambient-caps=-all," + ",".join(f"+{c}" for c in caps),
               "--bounding-set=-all," + ",".join(f"+{c}" for c in caps), *argv]
    daemon = subprocess.Popen(wrapped, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert daemon.poll() is None and time.monotonic() < deadline, daemon.stdout.read().decode()
                time.sleep(0.05)
        status = Path(f"/proc/{daemon.pid}/status").read_text()
        assert f"Uid:\t{service_user}\t{service_user}" in status          # not root
        password = world_readable_dir / "password"
        password.write_text(secret + "\n")
        password.chmod(0o600)
        fetched = subprocess.run(["rsync", "-a", f"--password-file={password}",
                                  f"rsync://yixiao-0301@127.0.0.1:{port}/repo/CURRENT",
                                  str(world_readable_dir / "CURRENT")],
                                 capture_output=True, text=True, timeout=60)
        log = (data / "rsyncd.log").read_text() if (data / "rsyncd.log").exists() else ""
        assert fetched.returncode == 0, fetched.stderr + log
        assert (world_readable_dir / "CURRENT").read_bytes() == (settings.mirror_dir / "CURRENT").read_bytes()
    finally:
        daemon.terminate()
        try:
            daemon.wait(10)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()


def test_the_units_use_the_python_of_this_checkout() -> None:
    """The templating above points at real programs (else verify would say 'not executable')."""
    for here in INSTALLED.values():
        assert os.access(here, os.X_OK), here
    assert Path(sys.executable).is_file()


def systemd_unescape(word: str) -> str:
    """What systemd passes to the program for a word of ExecStart= ($$ → $, %% → %)."""
    return word.replace("$$", "$").replace("%%", "%")


def test_the_backup_unit_keeps_dated_hard_linked_snapshots_and_prunes_old_ones(tmp_path) -> None:
    unit = UNITS / "repo-server-backup.service"
    assert value(unit, "Type") == "oneshot"
    assert value(unit, "ReadWritePaths").split() == ["/srv/repo-server", "/backup/repo-server"]
    root = tmp_path / "backups"
    latest = root / "latest"
    (latest / "blobs").mkdir(parents=True)
    (latest / "blobs" / "blob").write_bytes(b"immutable")
    (latest / "MANIFEST.json").write_text("{}")
    old_daily, old_monthly, young_monthly = root / "2020-01-02", root / "2020-01-01", root / "2099-12-01"
    for directory in (old_daily, old_monthly, young_monthly):
        directory.mkdir()
        os.utime(directory, (time.time() - 500 * 86400,) * 2 if directory != young_monthly else None)
    for command in values(unit, "ExecStartPost"):
        argv = [systemd_unescape(w).replace("/backup/repo-server", str(root)) for w in shlex.split(command)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (argv, done.stderr)
    snapshot = root / time.strftime("%Y-%m-%d")
    assert (snapshot / "MANIFEST.json").is_file()
    assert (snapshot / "blobs" / "blob").stat().st_ino == (latest / "blobs" / "blob").stat().st_ino
    assert not old_daily.exists() and not old_monthly.exists() and young_monthly.exists()
