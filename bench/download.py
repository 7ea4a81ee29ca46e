"""Benchmark 2, download: a stored file over loopback from repo-server vs nginx.

One `repo-server serve` (fresh data dir, REPO_WORKERS=2) holds the file, uploaded through
the API first. Debian's nginx (2 workers, sendfile on, access_log off, generated config in
a private directory) serves the very same blob file from `<data dir>/blobs/ab/cd/<sha256>`.
The client is the same for both: `curl -o /dev/null`. Both are fetched once untimed and
their bytes checked against the sha256 (this also warms the page cache: the measurements
are warm-cache, i.e. the file is in RAM and the disk is not involved). Then each round
fetches the whole file and a Range from the middle (`bytes=<size/2>-`) from both servers,
alternating which goes first. repo-server is asked anonymously (the resource is public and
published), as a teacher's browser would; its download counting runs as in production.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from statistics import median
from typing import Any

from _common import GiB, MB, make_test_file, mbps, run
from _servers import NginxProcess, RepoServerProcess, cpu_seconds

__all__ = ["run_download"]


def _fetch(url: str, pids: list[int], range_start: int | None = None) -> dict[str, Any]:
    """One timed GET; also the CPU time the server's processes spent meanwhile."""
    argv = ["curl", "-sS", "-o", "/dev/null", "-w",
            "%{http_code} %{size_download} %{time_total} %{time_starttransfer}"]
    if range_start is not None:
        argv += ["-H", f"Range: bytes={range_start}-"]
    cpu0 = cpu_seconds(pids)
    t0 = time.perf_counter()
    done = run([*argv, url])
    elapsed = time.perf_counter() - t0
    cpu = cpu_seconds(pids) - cpu0
    code, size, curl_total, first_byte = done.stdout.split()
    return {"seconds": elapsed, "http_code": int(code), "bytes": int(size),
            "curl_time_total": float(curl_total), "time_to_first_byte": float(first_byte),
            "mb_s": mbps(int(size), elapsed), "server_cpu_seconds": cpu}


def _verify(url: str, sha256: str, what: str) -> None:
    curl = subprocess.Popen(["curl", "-sS", "--fail", url], stdout=subprocess.PIPE)
    digest = run(["sha256sum"], stdin=curl.stdout).stdout.split()[0]
    curl.stdout.close()
    if curl.wait() != 0 or digest != sha256:
        raise SystemExit(f"bench: {what} sent bytes with sha256 {digest}, expected {sha256}")


def _upload(server: RepoServerProcess, src: Path, size: int, sha256: str, work: Path) -> str:
    t0 = time.perf_counter()
    run(["curl", "-sS", "--fail-with-body", "-o", str(work / "download-upload.json"),
         "-H", f"Authorization: Bearer {server.token}",
         "-F", f"file=@{src};filename=微课-bench.mp4;type=video/mp4",
         "-F", "title=download benchmark", server.url + "/api/v1/resources"])
    answer = json.loads((work / "download-upload.json").read_text(encoding="utf-8"))
    if answer.get("sha256") != sha256 or answer.get("size") != size:
        raise SystemExit(f"bench: the upload for the download benchmark answered {answer}")
    print(f"download: stored {size / MB:.0f} MB in repo-server in "
          f"{time.perf_counter() - t0:.1f} s (warm cache, untimed)", flush=True)
    return answer["id"]


def run_download(ctx: dict[str, Any], size: int, rounds: int) -> dict[str, Any]:
    work: Path = ctx["workdir"]
    src = work / f"download-{size}.mp4"
    sha256 = make_test_file(src, size)
    data_dir = work / "download-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    server = RepoServerProcess(ctx["repo_server"], data_dir, workers=2,
                               log=work / "download-server.log")
    nginx = NginxProcess(data_dir / "blobs", work / "nginx", workers=2)
    server.initialise()
    server.start()
    try:
        resource_id = _upload(server, src, size, sha256, work)
        if not ctx["keep"]:
            src.unlink(missing_ok=True)  # the blob in the store is the file from now on
            src.with_name(src.name + ".sha256").unlink(missing_ok=True)
        nginx.start()
        urls = {"repo-server": f"{server.url}/api/v1/resources/{resource_id}/download",
                "nginx": f"{nginx.url}/{sha256[:2]}/{sha256[2:4]}/{sha256}"}
        for name, url in urls.items():
            _verify(url, sha256, name)
        pids = {"repo-server": server.pids(), "nginx": nginx.pids()}
        middle = size // 2
        results: dict[str, dict[str, list]] = {name: {"full": [], "range": []} for name in urls}
        for n in range(rounds):
            order = list(urls) if n % 2 == 0 else list(reversed(urls))
            for kind in ("full", "range"):
                for name in order:
                    got = _fetch(urls[name], pids[name], middle if kind == "range" else None)
                    expected = (206, size - middle) if kind == "range" else (200, size)
                    if (got["http_code"], got["bytes"]) != expected:
                        raise SystemExit(f"bench: {name} {kind} answered {got}")
                    results[name][kind].append(got)
            print(f"download round {n + 1}: " + "  ".join(
                f"{name} {results[name][kind][-1]['mb_s']:.0f} MB/s ({kind})"
                for kind in ("full", "range") for name in urls), flush=True)
        memory = server.memory()
    finally:
        nginx.stop()
        server.stop()
        if not ctx["keep"]:
            shutil.rmtree(data_dir, ignore_errors=True)
    medians = {name: {kind: median(r["mb_s"] for r in runs) for kind, runs in by_kind.items()}
               for name, by_kind in results.items()}
    # CPU seconds the server spent per GiB sent: sendfile() costs a fraction of read()+send().
    cpu_per_gib = {name: {kind: sum(r["server_cpu_seconds"] for r in runs)
                          / (sum(r["bytes"] for r in runs) / GiB)
                          for kind, runs in by_kind.items()}
                   for name, by_kind in results.items()}
    return {
        "size_bytes": size, "rounds": rounds, "sha256": sha256, "range_start": middle,
        "server_cpu_s_per_gib": cpu_per_gib,
        "client": "curl -o /dev/null", "cache": "warm (file fetched once from each server first)",
        "runs": results, "median_mb_s": medians,
        "ratio_full": medians["repo-server"]["full"] / medians["nginx"]["full"],
        "ratio_range": medians["repo-server"]["range"] / medians["nginx"]["range"],
        "server_memory_after": memory,
        "goals": {"ratio_min": 0.8},
    }
