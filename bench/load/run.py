#!/usr/bin/env python3
"""Load benchmark: 100 concurrent clients against the production setup (nginx with
deploy/nginx/repo-server.conf in front of `repo-server serve`), driven by wrk.

    .venv/bin/python bench/load/run.py                    # 3,000 resources, 30 s per scenario
    .venv/bin/python bench/load/run.py --duration 5 --size 500 --no-doc   # a smoke run
    .venv/bin/python bench/load/run.py --render bench/results/load-latest.json   # page only

Scenarios, one after the other, each after a short untimed warm-up: the search mix of
bench/search/queries.py (words, pinyin, aliases, filters, sorting; every answer computes all
facets) as a teacher; downloads of a few-MB file through repo-server (permission check,
counting, X-Accel-Redirect, nginx sends the bytes); the same files from a plain nginx
location (no app) on the same nginx. Reports requests/s, MB/s, p50/p95/p99, non-2xx and
socket errors, server CPU, and the download ratios; writes bench/results/load-<UTC>.json and
the `<!-- bench:load -->` section of docs/benchmarks.md. See bench/load/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
ROOT = BENCH.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve() and VENV_PYTHON.exists():
    os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), *sys.argv])   # the generator imports repo_server
sys.path[:0] = [str(HERE), str(BENCH), str(BENCH / "search")]

from _common import MiB, check_workdir, code_version, machine_info, make_test_file, run, save_results  # noqa: E402
from _servers import RepoServerProcess, cpu_seconds  # noqa: E402
from front import NginxFront  # noqa: E402
from generate import generate, matching_library  # noqa: E402
from load_report import render  # noqa: E402
from queries import QUERIES  # noqa: E402
from report import write_section  # noqa: E402
from wrk import run_wrk, wrk_version  # noqa: E402

CLI = ROOT / ".venv" / "bin" / "repo-server"
ACCEL = "/_repo_blobs/"
BROWSER_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0"


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=3000, help="resources in the library (default 3000)")
    parser.add_argument("--engine", default="whoosh", choices=("whoosh", "tantivy"))
    parser.add_argument("--duration", type=int, default=30, help="seconds per scenario (default 30)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed seconds before each scenario")
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--files", type=int, default=8, help="distinct download files (default 8)")
    parser.add_argument("--file-mb", type=float, default=4, help="size of each download file in MiB")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/repo-server-bench-load"))
    parser.add_argument("--keep", action="store_true", help="keep the library for the next run")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument("--render", type=Path, help="only rewrite the page section from this results file")
    return parser.parse_args(argv)


def _cli(*args: str, env: dict, input_text: str | None = None) -> str:
    return run([str(CLI), *args], env=env, input=input_text).stdout


def _first_user(data: Path, role: str) -> str:
    import sqlite3
    db = sqlite3.connect(data / "catalog.sqlite3")
    (name,) = db.execute("SELECT username FROM users WHERE role=? AND active ORDER BY id LIMIT 1", (role,)).fetchone()
    db.close()
    return name


def _token(data: Path, role: str, env: dict) -> str:
    return _cli("token", "create", _first_user(data, role), "--name", "bench-load", env=env).strip().split()[-1]


def _search_paths() -> list[str]:
    paths = []
    for _, q, filters, sort in QUERIES:
        params = [("q", q), *((name, value) for name, values in filters.items() for value in values)]
        if sort != "relevance":
            params.append(("sort", sort))
        paths.append("/api/v1/search?" + urllib.parse.urlencode(params))
    return paths


def _upload_files(ctx: dict, front: NginxFront, token: str) -> list[dict]:
    """Upload the download files through nginx (untimed); each file's id, sha256 and size."""
    files = []
    size = int(ctx["file_mb"] * MiB)
    for n in range(ctx["files"]):
        path = ctx["workdir"] / f"load-file-{n}.mp4"
        sha = make_test_file(path, size)
        answer = json.loads(run(["curl", "-sS", "--fail-with-body", "-H", f"Authorization: Bearer {token}",
                                 "-F", f"file=@{path};filename=第{n + 1}课 课堂实录.mp4;type=video/mp4",
                                 "-F", f"title=负载测试 课堂实录 {n + 1}", "-F", "allow_duplicate=true",
                                 front.url + "/api/v1/resources"]).stdout)
        if answer.get("sha256", sha) != sha:
            raise SystemExit(f"bench: upload {n} stored {answer.get('sha256')}, expected {sha}")
        files.append({"id": answer["id"], "sha256": sha, "size": size})
    return files


def _check_bytes(url: str, sha: str) -> None:
    with urllib.request.urlopen(urllib.request.Request(url, headers={"User-Agent": BROWSER_UA}), timeout=60) as answer:
        digest = hashlib.sha256(answer.read()).hexdigest()
    if digest != sha:
        raise SystemExit(f"bench: {url} sent bytes with sha256 {digest}, expected {sha}")


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _scenarios(ctx: dict, front: NginxFront, files: list[dict], teacher_token: str) -> list[dict]:
    work = ctx["workdir"]
    browser = _write_lines(work / "headers-browser.txt", [f"User-Agent: {BROWSER_UA}"])
    teacher = _write_lines(work / "headers-teacher.txt", [f"User-Agent: {BROWSER_UA}",
                                                         f"Authorization: Bearer {teacher_token}"])
    app_paths = [f"/api/v1/resources/{f['id']}/download" for f in files]
    peer_paths = [f"/blobs/{f['sha256'][:2]}/{f['sha256'][2:4]}/{f['sha256']}" for f in files]
    return [
        {"name": "search", "url": front.url, "headers": teacher, "count_status": True,
         "paths": _write_lines(work / "paths-search.txt", _search_paths())},
        {"name": "download via repo-server", "url": front.url, "headers": browser,
         "paths": _write_lines(work / "paths-download-app.txt", app_paths)},
        {"name": "download from nginx directly", "url": front.peer_url, "headers": browser,
         "paths": _write_lines(work / "paths-download-peer.txt", peer_paths)},
    ]


def measure(ctx: dict) -> dict:
    data, work = ctx["data"], ctx["workdir"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPO_")}
    env.update(REPO_DATA_DIR=str(data), REPO_LOG_LEVEL="warning", REPO_SEARCH_ENGINE=ctx["engine"])
    _cli("init", env=env)                                   # migrate a library made by older code
    started = time.perf_counter()
    _cli("index", "rebuild", env=env)
    rebuild_s = time.perf_counter() - started
    teacher_token, admin_token = _token(data, "teacher", env), _token(data, "admin", env)

    server = RepoServerProcess(CLI, data, workers=2, log=work / "server.log")
    server.env.update(REPO_LOG_LEVEL="warning", REPO_SEARCH_ENGINE=ctx["engine"], REPO_ACCEL_REDIRECT=ACCEL,
                      REPO_PROXY_HOPS="1", REPO_EMBEDDED_WORKER="false")
    front = NginxFront(work / "nginx", data, server.port)
    try:
        server.start()
        front.start()
        files = _upload_files(ctx, front, admin_token)
        for f in files:                                     # right bytes both ways; warms the page cache
            _check_bytes(f"{front.url}/api/v1/resources/{f['id']}/download", f["sha256"])
            sha = f["sha256"]
            _check_bytes(f"{front.peer_url}/blobs/{sha[:2]}/{sha[2:4]}/{sha}", sha)
        results = {"index_rebuild_s": round(rebuild_s, 1), "files": files, "scenarios": {}}
        for scenario in _scenarios(ctx, front, files, teacher_token):
            name = scenario["name"]
            print(f"bench: {name}: {ctx['warmup']} s warm-up, {ctx['duration']} s measured", flush=True)
            if ctx["warmup"]:
                run_wrk(scenario, duration=ctx["warmup"], connections=ctx["connections"], threads=ctx["threads"])
            pids = {"repo-server": server.pids(), "nginx": front.pids()}
            cpu_before = {k: cpu_seconds(v) for k, v in pids.items()}
            load_before = os.getloadavg()
            measured = run_wrk(scenario, duration=ctx["duration"], connections=ctx["connections"],
                               threads=ctx["threads"])
            measured["cpu_s"] = {k: round(cpu_seconds(v) - cpu_before[k], 2) for k, v in pids.items()}
            measured["loadavg_before"] = [round(x, 2) for x in load_before]
            measured["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
            results["scenarios"][name] = measured
            print(f"bench:   {measured['requests_per_s']:.0f} req/s, p95 {measured['latency_ms']['p95']:.1f} ms, "
                  f"{measured['mb_per_s']:.0f} MB/s, errors {measured['errors']}", flush=True)
        return results
    finally:
        front.stop()
        server.stop()


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    doc = ROOT / "docs" / "benchmarks.md"
    if args.render:
        write_section(doc, "load", render(json.loads(args.render.read_text(encoding="utf-8"))))
        return 0
    if shutil.which("wrk") is None:
        raise SystemExit("bench: wrk is not installed: apt-get install -y wrk")
    if shutil.which("nginx") is None:
        raise SystemExit("bench: nginx is not installed: apt-get install -y nginx-light")
    workdir_info = check_workdir(args.workdir)
    data = args.workdir / f"library-{args.size}"
    if not matching_library(data, args.size):
        print(f"bench: generating a library of {args.size:,} resources in {data}", flush=True)
        generate(data, args.size)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    results = {"command": "python bench/load/run.py" + (" " + " ".join(sys.argv[1:] if argv is None else argv)).rstrip(),
               "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "code": code_version(),
               "quick": args.duration < 30 or args.size < 1000, "size": args.size, "engine": args.engine,
               "duration_s": args.duration, "warmup_s": args.warmup, "connections": args.connections,
               "wrk_threads": args.threads, "file_mb": args.file_mb, "wrk": wrk_version(),
               "loadavg_start": [round(x, 2) for x in os.getloadavg()],
               "machine": machine_info(CLI, workdir_info)}
    ctx = {"data": data, "workdir": args.workdir, "engine": args.engine, "duration": args.duration,
           "warmup": args.warmup, "connections": args.connections, "threads": args.threads,
           "files": args.files, "file_mb": args.file_mb}
    results.update(measure(ctx))
    path = save_results("load", results, stamp)
    print(f"bench: results in {path}")
    if not args.no_doc:
        write_section(doc, "load", render(results))
        print(f"bench: wrote the load section of {doc.relative_to(ROOT)}")
    for leftover in args.workdir.glob("load-file-*"):
        leftover.unlink()
    if not args.keep:
        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
