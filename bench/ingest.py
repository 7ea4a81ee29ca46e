"""Benchmark 1, ingest: upload a large file through the API vs `cp` + `sha256sum`.

Each round runs both sides, alternating which goes first, each from the same cache state
(everything synced, page cache dropped when the kernel lets us):

* repo-server: a fresh data dir (`repo-server init`, admin user, token) and a fresh
  `repo-server serve` (REPO_WORKERS=2), started and healthy before the clock starts; then
  `curl -F file=@FILE` POSTs it to /api/v1/resources as multipart/form-data. curl streams
  the file from disk with a known Content-Length. Timed: the curl process, request to
  201 answer, which includes the server's fsync, rename and catalog commit.
  After the answer: the response's sha256/size are checked against the file, and VmHWM of
  the gunicorn master and workers is read from /proc.
* peer: `cp FILE DEST` then `sha256sum DEST` on the same disk (timed separately, both
  reported). Then, informational: `openssl dgst -sha256 DEST` (coreutils' sha256sum does
  not use the CPU's SHA instructions, OpenSSL and so the server's hashlib do), giving
  "cp + openssl"; and `sync DEST`, giving "peer + fsync", the durability the server pays
  for and plain cp does not.

A fresh data dir per round means a fresh server per round (a server serves one data dir),
which also makes each round's VmHWM that round's own peak. Blobs dedup by sha256, so
re-uploading into the same data dir would measure nothing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from statistics import median
from typing import Any

from _common import MB, drop_caches, make_test_file, mbps, run
from _servers import MemorySampler, RepoServerProcess

__all__ = ["run_ingest"]

FILENAME = "课堂实录-bench.mp4"  # a Chinese name, as real uploads have


def _cold(ctx: dict[str, Any]) -> None:
    """Same starting state for every timed operation: no dirty pages, and (if allowed)
    nothing of the source file in the page cache."""
    if ctx["drop_caches"]:
        drop_caches()
    else:
        subprocess.run(["sync"], check=True)


def _repo_round(ctx: dict[str, Any], src: Path, size: int, sha256: str, label: str) -> dict[str, Any]:
    work: Path = ctx["workdir"]
    data_dir = work / f"ingest-data-{label}"
    shutil.rmtree(data_dir, ignore_errors=True)
    server = RepoServerProcess(ctx["repo_server"], data_dir, workers=2,
                               log=work / "ingest-server.log")
    server.initialise()
    server.start()
    try:
        before = server.memory()
        _cold(ctx)
        sampler = MemorySampler(server, staging_dir=data_dir / "tmp", expected_size=size)
        sampler.start()
        argv = ["curl", "-sS", "--fail-with-body", "-o", str(work / "ingest-response.json"),
                "-w", "%{http_code} %{size_upload} %{time_total}",
                "-H", f"Authorization: Bearer {server.token}",
                "-F", f"file=@{src};filename={FILENAME};type=video/mp4",
                "-F", f"title=ingest benchmark {label}",
                server.url + "/api/v1/resources"]
        t0 = time.perf_counter()
        done = run(argv)
        elapsed = time.perf_counter() - t0
        sampler.halt()
        after = server.memory()
        http_code, size_upload, curl_total = done.stdout.split()
        answer = json.loads((work / "ingest-response.json").read_text(encoding="utf-8"))
        if http_code != "201" or answer.get("sha256") != sha256 or answer.get("size") != size:
            raise SystemExit(f"bench: upload {label} answered {http_code} {answer}")
        receive_s = (sampler.received_at - t0) if sampler.received_at else None
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    return {
        "seconds": elapsed, "mb_s": mbps(size, elapsed), "curl_time_total": float(curl_total),
        "bytes_sent": int(size_upload), "http_code": int(http_code), "sha256_ok": True,
        # time until the staged file held every byte; the rest is fsync + rename + commit
        "receive_seconds": receive_s,
        "finish_seconds": (elapsed - receive_s) if receive_s else None,
        "memory_before": before, "memory_after": after,
        "peak_sum_rss_kB_sampled": sampler.peak_sum_rss_kB,
    }


def _peer_round(ctx: dict[str, Any], src: Path, size: int, sha256: str) -> dict[str, Any]:
    dest = ctx["workdir"] / "ingest-peer-copy.mp4"
    dest.unlink(missing_ok=True)
    _cold(ctx)
    t0 = time.perf_counter()
    run(["cp", str(src), str(dest)])
    t1 = time.perf_counter()
    digest = run(["sha256sum", str(dest)]).stdout.split()[0]
    t2 = time.perf_counter()
    # Informational: the same hash by OpenSSL (SHA-NI), which hashlib in the server also uses.
    openssl_digest = run(["openssl", "dgst", "-sha256", "-r", str(dest)]).stdout.split()[0]
    t3 = time.perf_counter()
    run(["sync", str(dest)])  # fsync(DEST): what the server's staging file gets
    t4 = time.perf_counter()
    dest.unlink()
    if digest != sha256 or openssl_digest != sha256:
        raise SystemExit(f"bench: the copy hashes to {digest}/{openssl_digest}, expected {sha256}")
    cp_s, sha_s, openssl_s, sync_s = t1 - t0, t2 - t1, t3 - t2, t4 - t3
    return {"seconds": cp_s + sha_s, "mb_s": mbps(size, cp_s + sha_s), "cp_seconds": cp_s,
            "sha256sum_seconds": sha_s, "openssl_seconds": openssl_s, "sync_seconds": sync_s,
            "with_fsync_seconds": cp_s + sha_s + sync_s,
            "with_fsync_mb_s": mbps(size, cp_s + sha_s + sync_s),
            "openssl_mb_s": mbps(size, cp_s + openssl_s), "sha256_ok": True}


def run_ingest(ctx: dict[str, Any], size: int, rounds: int) -> dict[str, Any]:
    src = ctx["workdir"] / f"ingest-{size}.mp4"
    t0 = time.perf_counter()
    sha256 = make_test_file(src, size)
    print(f"ingest: test file {src} ({size / MB:.0f} MB) ready in {time.perf_counter() - t0:.1f} s",
          flush=True)
    repo, peer = [], []
    for n in range(rounds):
        order = ("repo-server", "peer") if n % 2 == 0 else ("peer", "repo-server")
        for side in order:
            if side == "repo-server":
                result = _repo_round(ctx, src, size, sha256, f"r{n + 1}")
                repo.append(result)
                print(f"ingest round {n + 1}: repo-server {result['mb_s']:7.1f} MB/s  "
                      f"{result['seconds']:.2f} s  worker+master peak "
                      f"{result['memory_after']['max_hwm_kB'] / 1024:.0f} MiB", flush=True)
            else:
                result = _peer_round(ctx, src, size, sha256)
                peer.append(result)
                print(f"ingest round {n + 1}: peer        {result['mb_s']:7.1f} MB/s  "
                      f"{result['seconds']:.2f} s  (+fsync {result['with_fsync_mb_s']:.1f} MB/s)",
                      flush=True)
    if not ctx["keep"]:
        src.unlink(missing_ok=True)
        src.with_name(src.name + ".sha256").unlink(missing_ok=True)
    repo_mb_s = median(r["mb_s"] for r in repo)
    peer_mb_s = median(r["mb_s"] for r in peer)
    peer_fsync_mb_s = median(r["with_fsync_mb_s"] for r in peer)
    peer_openssl_mb_s = median(r["openssl_mb_s"] for r in peer)
    max_hwm = max(r["memory_after"]["max_hwm_kB"] for r in repo)
    return {
        "size_bytes": size, "rounds": rounds, "sha256": sha256, "client": "curl -F (streams)",
        "cache": "dropped before every timed operation" if ctx["drop_caches"]
                 else "synced, not dropped (no permission)",
        "repo_server": repo, "peer": peer,
        "median_mb_s": {"repo_server": repo_mb_s, "peer": peer_mb_s,
                        "peer_with_fsync": peer_fsync_mb_s, "peer_openssl": peer_openssl_mb_s},
        "ratio": repo_mb_s / peer_mb_s,
        "ratio_vs_peer_with_fsync": repo_mb_s / peer_fsync_mb_s,
        "ratio_vs_peer_openssl": repo_mb_s / peer_openssl_mb_s,
        "peak_rss_max_process_MiB": max_hwm / 1024,
        "peak_rss_sum_MiB": max(r["memory_after"]["sum_hwm_kB"] for r in repo) / 1024,
        "goals": {"ratio_min": 0.8, "peak_rss_max_MiB": 150},
    }
