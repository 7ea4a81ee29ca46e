"""Shared pieces of the benchmarks: locations, test files, cache control, machine facts.

Standard library only, so `python bench/run.py` works with any Python 3.11+: the server
itself always runs from the project's virtualenv (`.venv/bin/repo-server`), and every byte
moved in a measurement is moved by curl, cp, sha256sum or nginx, never by this process.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import socket
import struct
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["REPO_ROOT", "MB", "MiB", "GiB", "find_repo_server", "free_port", "mount_of",
           "check_workdir", "drop_caches", "make_test_file", "machine_info", "code_version",
           "run", "mbps"]

REPO_ROOT = Path(__file__).resolve().parent.parent
MB = 1_000_000          # throughput unit: MB/s means 10^6 bytes per second
MiB = 1024**2           # file sizes are binary
GiB = 1024**3
_WRITE_CHUNK = 8 * MiB
_MEMORY_FILESYSTEMS = {"tmpfs", "ramfs", "devtmpfs"}


def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess:
    """subprocess.run with captured text output that raises on a non-zero exit."""
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    return subprocess.run(argv, check=True, **kwargs)


def mbps(size: int, seconds: float) -> float:
    return size / seconds / MB


def find_repo_server() -> Path:
    """The `repo-server` console script: $BENCH_REPO_SERVER, else the project's .venv."""
    for candidate in (os.environ.get("BENCH_REPO_SERVER"),
                      str(REPO_ROOT / ".venv" / "bin" / "repo-server"),
                      shutil.which("repo-server")):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise SystemExit("bench: cannot find the repo-server command (create .venv first, "
                     "or set BENCH_REPO_SERVER)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mount_of(path: Path) -> dict[str, str]:
    """Device, mount point and filesystem type of the mount holding `path`."""
    real = str(path.resolve())
    best = {"device": "?", "mountpoint": "/", "fstype": "?"}
    with open("/proc/mounts", encoding="utf-8") as mounts:
        for line in mounts:
            device, mountpoint, fstype = line.split()[:3]
            mountpoint = mountpoint.replace("\\040", " ")
            inside = real == mountpoint or real.startswith(mountpoint.rstrip("/") + "/")
            if inside and len(mountpoint) >= len(best["mountpoint"]):
                best = {"device": device, "mountpoint": mountpoint, "fstype": fstype}
    return best


def check_workdir(workdir: Path) -> dict[str, Any]:
    """Refuse a memory-backed work directory: the benchmarks are about a real disk."""
    workdir.mkdir(parents=True, exist_ok=True)
    # nginx workers run as `nobody` and must be able to reach the blob files below here.
    workdir.chmod(0o755)
    mount = mount_of(workdir)
    if mount["fstype"] in _MEMORY_FILESYSTEMS:
        raise SystemExit(f"bench: {workdir} is on {mount['fstype']}, not a disk; "
                         "pass --workdir on a real disk")
    usage = shutil.disk_usage(workdir)
    block = Path("/sys/block") / Path(mount["device"]).name / "queue" / "rotational"
    rotational = block.read_text().strip() if block.exists() else "?"
    return {**mount, "path": str(workdir), "free_gib": round(usage.free / GiB, 1),
            "rotational": rotational}


def drop_caches() -> bool:
    """sync, then drop the page cache (root only). False when the kernel refuses."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w", encoding="ascii") as knob:
            knob.write("3\n")
    except OSError:
        return False
    return True


def _mp4_header(size: int) -> bytes:
    """An ISO-BMFF `ftyp` box and an `mdat` box spanning the rest of the file.

    repo-server refuses content libmagic cannot place (random bytes are
    application/octet-stream), so the test file is a "video": this header, then random
    bytes. libmagic reports video/mp4 and the upload is accepted as a class recording.
    """
    ftyp = struct.pack(">I", 24) + b"ftypisom" + struct.pack(">I", 512) + b"isomiso2"
    mdat = struct.pack(">I", 1) + b"mdat" + struct.pack(">Q", size - len(ftyp))
    return ftyp + mdat


def make_test_file(path: Path, size: int) -> str:
    """Create (or reuse) a `size`-byte test file of random content; return its sha256.

    The sha256 is kept beside it in `<name>.sha256` so a kept file is not re-hashed.
    """
    marker = path.with_name(path.name + ".sha256")
    if path.is_file() and path.stat().st_size == size and marker.is_file():
        return marker.read_text().split()[0]
    digest = hashlib.sha256()
    header = _mp4_header(size)
    with open(path, "wb") as out:
        out.write(header)
        digest.update(header)
        left = size - len(header)
        while left > 0:
            chunk = os.urandom(min(left, _WRITE_CHUNK))
            out.write(chunk)
            digest.update(chunk)
            left -= len(chunk)
        out.flush()
        os.fsync(out.fileno())
    marker.write_text(f"{digest.hexdigest()}  {path.name}\n")
    return digest.hexdigest()


def _first_line(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else "?"


def _cpu_model() -> str:
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def _hypervisor() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except OSError:
        return "?"
    found = re.search(r"Hypervisor vendor:\s*(.+)", lscpu)
    return found.group(1).strip() if found else "none"


def machine_info(repo_server: Path, workdir_info: dict[str, Any]) -> dict[str, Any]:
    """Everything needed to tell whether two result files are comparable."""
    venv_python = repo_server.parent / "python"
    versions = _first_line([str(venv_python), "-c",
                            "import sys, importlib.metadata as m; print(sys.version.split()[0], "
                            "*(m.version(p) for p in ('gunicorn', 'werkzeug', 'flask')))"])
    parts = versions.split()
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        mem_kib = int(meminfo.readline().split()[1])
    return {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "hypervisor": _hypervisor(),
        "memory_gib": round(mem_kib / 1024**2, 1),
        "kernel": platform.release(),
        "os": _first_line(["sh", "-c", ". /etc/os-release && echo \"$PRETTY_NAME\""]),
        "disk": workdir_info,
        "python": parts[0] if parts else "?",
        "gunicorn": parts[1] if len(parts) > 1 else "?",
        "werkzeug": parts[2] if len(parts) > 2 else "?",
        "flask": parts[3] if len(parts) > 3 else "?",
        "nginx": _first_line(["nginx", "-v"]).replace("nginx version: ", ""),
        "curl": " ".join(_first_line(["curl", "--version"]).split()[:2]),
        "coreutils": _first_line(["cp", "--version"]),
        "openssl": " ".join(_first_line(["openssl", "version"]).split()[:2]),
    }


def code_version() -> str:
    """The commit measured, and whether the server's code differed from it (others edit)."""
    commit = _first_line(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"])
    changed = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--",
                              "repo_server"], capture_output=True, text=True).stdout
    return commit + (" + uncommitted changes in repo_server/" if changed.strip() else "")


def save_results(name: str, results: dict[str, Any], stamp: str) -> Path:
    """bench/results/<name>-<stamp>[-quick].json, and the same as <name>-latest.json."""
    out_dir = REPO_ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    path = out_dir / f"{name}-{stamp}{'-quick' if results['quick'] else ''}.json"
    text = json.dumps(results, indent=2, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")
    (out_dir / f"{name}-latest.json").write_text(text, encoding="utf-8")
    return path
