#!/usr/bin/env python3
"""Page benchmark: server time of the home, search, catalog and resource pages at 100k
resources, and the weight of the search page (issue 5's goals: p95 ≤ 100 ms, ≤ 300 KB).

    .venv/bin/python bench/pages/run.py                       # 100k library, Tantivy and Whoosh
    .venv/bin/python bench/pages/run.py --engines tantivy --requests 100
    .venv/bin/python bench/pages/run.py --size 2000 --requests 20 --no-doc    # a smoke run
    .venv/bin/python bench/pages/run.py --render bench/results/pages-latest.json   # page only

The library is the search benchmark's synthetic one (bench/search/generate.py: real lesson
names, 学段/学科/教材 distribution, permissions, ~2 KB of text each), generated once into the
work directory and reused by later runs with --keep. For each engine: `repo-server index
rebuild`, then `repo-server serve` as an operator runs it (gunicorn, 2 workers × 16 threads)
and one client on loopback asks each page N times in turn, as a teacher of one school (a
bearer token, so every page runs the permission filter) and, for the home page, anonymously.
Time = request sent → last byte received (urllib, loopback): the server's time plus well
under a millisecond of HTTP. The first round is a warm-up and not counted. Page weight: the
search page's HTML plus every stylesheet and script it links, raw and gzip-compressed (what
nginx with gzip on would send); previews (images, video) are excluded, as the goal says.

Writes bench/results/pages-<UTC time>.json and the `<!-- bench:pages -->` section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import statistics
import subprocess
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
    os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), *sys.argv])   # it imports repo_server
sys.path[:0] = [str(BENCH), str(BENCH / "search")]

from _common import check_workdir, code_version, free_port, machine_info, save_results  # noqa: E402
from _servers import _stop, _wait_http  # noqa: E402
from report import write_section  # noqa: E402
from generate import generate, matching_library  # noqa: E402

GOAL_P95_MS = 100.0
GOAL_WEIGHT = 300 * 1024
CLI = ROOT / ".venv" / "bin" / "repo-server"


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--engines", default="tantivy,whoosh")
    parser.add_argument("--requests", type=int, default=100, help="timed requests per page (default 100)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/repo-server-bench-pages"))
    parser.add_argument("--keep", action="store_true", help="keep the generated library for the next run")
    parser.add_argument("--reuse-index", action="store_true",
                        help="serve an engine's existing index when it is current (same schema, no lag) "
                             "instead of rebuilding it first")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument("--render", type=Path, help="only rewrite the page section from this results file")
    return parser.parse_args(argv)


def _cli(*args: str, env: dict, input_text: str | None = None) -> str:
    done = subprocess.run([str(CLI), *args], env=env, input=input_text, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"bench: repo-server {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def _fetch(url: str, token: str | None) -> tuple[float, bytes, int]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            body, status = answer.read(), answer.status
    except urllib.error.HTTPError as exc:
        body, status = exc.read(), exc.code
    return time.perf_counter() - started, body, status


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _pages(data: Path, rng: random.Random) -> list[tuple[str, str, bool]]:
    """(name, path, as_teacher) for the pages measured; resource pages of random public items."""
    import sqlite3
    db = sqlite3.connect(data / "catalog.sqlite3")
    ids = [row[0] for row in db.execute(
        "SELECT id FROM resources WHERE deleted_at IS NULL AND status='published' AND visibility='public'"
        " ORDER BY id LIMIT 5000")]
    db.close()
    q = urllib.parse.quote
    pages = [("home (visitor)", "/", False), ("home (teacher)", "/", True),
             ("browse 初中 › 数学", f"/browse?stage={q('初中')}&subject={q('数学')}", True),
             ("search 勾股定理", f"/search?q={q('勾股定理')}", True),
             ("search 八年级 数学 人教版", f"/search?q={q('八年级 数学 人教版')}", True),
             ("search 课件 + 物理 + 八年级", f"/search?q={q('课件')}&subject={q('物理')}&grade={q('八年级')}", True),
             ("search, browse newest", "/search?sort=newest", True)]
    pages += [(f"resource {n + 1}", f"/r/{rid}", True) for n, rid in enumerate(rng.sample(ids, min(5, len(ids))))]
    return pages


def _weight(base: str, token: str) -> dict:
    """The search page and what it links (stylesheets, scripts), raw and gzip."""
    _, html, _ = _fetch(base + "/search?q=" + urllib.parse.quote("勾股定理"), token)
    assets = re.findall(rb'<link rel="stylesheet" href="([^"]+)"', html) + re.findall(rb'<script src="([^"]+)"', html)
    parts = {"html": html}
    for href in assets:
        parts[href.decode()] = _fetch(base + href.decode(), token)[1]
    return {"parts": {name: {"bytes": len(body), "gzip": len(gzip.compress(body, 6))} for name, body in parts.items()},
            "bytes": sum(len(b) for b in parts.values()),
            "gzip": sum(len(gzip.compress(b, 6)) for b in parts.values())}


def _index_is_current(env: dict) -> bool:
    """The engine's live index exists, has this version's schema and has applied every change."""
    report = json.loads(_cli("index", "status", "--json", env=env))
    return bool(report.get("generation")) and not report.get("outdated") and report.get("seq") == report.get("catalog_seq")


def measure_engine(engine: str, data: Path, requests: int, token: str, *, reuse_index: bool = False) -> dict:
    env = {**os.environ, "REPO_DATA_DIR": str(data), "REPO_SEARCH_ENGINE": engine, "REPO_LOG_LEVEL": "warning",
           "REPO_EMBEDDED_WORKER": "false", "REPO_WORKERS": "2"}
    started = time.perf_counter()
    rebuild_s = None
    if not (reuse_index and _index_is_current(env)):
        _cli("index", "rebuild", env=env)
        rebuild_s = time.perf_counter() - started
    port = free_port()
    server = subprocess.Popen([str(CLI), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_http(base + "/healthz", server, "repo-server", timeout_s=120)
        pages = _pages(data, random.Random(7))
        times: dict[str, list[float]] = {name: [] for name, _, _ in pages}
        sizes: dict[str, int] = {}
        for round_no in range(requests + 1):            # round 0 warms up
            for name, path, as_teacher in pages:
                seconds, body, status = _fetch(base + path, token if as_teacher else None)
                if status != 200:
                    raise SystemExit(f"bench: {path} answered {status}: {body[:300]!r}")
                if round_no:
                    times[name].append(seconds * 1000)
                sizes[name] = len(body)
        result = {"rebuild_s": round(rebuild_s, 1) if rebuild_s is not None else None, "pages": {}}
        for name, path, _ in pages:
            values = times[name]
            result["pages"][name] = {"path": path, "p50": round(statistics.median(values), 1),
                                     "p95": round(_percentile(values, 0.95), 1), "max": round(max(values), 1),
                                     "bytes": sizes[name]}
        result["weight"] = _weight(base, token)
        return result
    finally:
        _stop(server, 15, 30)


def render(res: dict) -> str:
    out = ["## Pages", "",
           f"Generated by `{res['command']}` on {res['date']}, code at {res['code']}, {res['size']:,} resources, "
           f"{res['requests']} timed requests per page after one warm-up round. Rerun that command to refresh "
           "this section. Raw numbers: bench/results/pages-*.json (not in git). Milliseconds, request sent → last "
           "byte received on loopback, one client, as a teacher (bearer token: the permission filter runs) unless "
           "marked visitor.", "", "### Goals", "", "| Goal | measured | goal | met |", "|---|---:|---:|---|"]
    for engine, run in res["engines"].items():
        worst = max(run["pages"].items(), key=lambda kv: kv[1]["p95"])
        out.append(f"| {engine}: slowest page p95 (home, catalog, search, resource) — {worst[0]} | "
                   f"{worst[1]['p95']:.1f} ms | ≤ {GOAL_P95_MS:.0f} ms | {'✔' if worst[1]['p95'] <= GOAL_P95_MS else '**✘**'} |")
    weight = next(iter(res["engines"].values()))["weight"]
    out.append(f"| Search page weight (HTML + CSS + JS, uncompressed) | {weight['bytes'] / 1024:.1f} KB | "
               f"≤ {GOAL_WEIGHT // 1024} KB | {'✔' if weight['bytes'] <= GOAL_WEIGHT else '**✘**'} |")
    out += ["", "### Every page", "", "| page | " + " | ".join(f"{e} p50 / p95 / max" for e in res["engines"])
            + " | HTML |", "|---|" + "---:|" * (len(res["engines"]) + 1)]
    first = next(iter(res["engines"].values()))
    for name, info in first["pages"].items():
        cells = [f"{run['pages'][name]['p50']:.1f} / **{run['pages'][name]['p95']:.1f}** / {run['pages'][name]['max']:.0f}"
                 for run in res["engines"].values()]
        out.append(f"| {name} (`{info['path']}`) | " + " | ".join(cells) + f" | {info['bytes'] / 1024:.1f} KB |")
    out += ["", "Search page weight, part by part (gzip = what a compressing proxy sends):", "",
            "| part | bytes | gzip |", "|---|---:|---:|"]
    for name, part in weight["parts"].items():
        out.append(f"| {name} | {part['bytes']:,} | {part['gzip']:,} |")
    out.append(f"| **total** | **{weight['bytes']:,}** | **{weight['gzip']:,}** |")
    out += ["", "Index rebuild before serving: " + ", ".join(
        f"{e} {run['rebuild_s']:.0f} s" if run.get("rebuild_s") is not None else f"{e} none (a current index was reused)"
        for e, run in res["engines"].items()) + ".",
        "", f"Machine: {res['machine'].get('cpu_model', '?')}, {res['machine'].get('cpu_count', '?')} cores; "
        f"load average at the start {res['loadavg'][0]:.2f}.", ""]
    analysis = HERE / "ANALYSIS.md"
    if analysis.is_file():
        out.append(analysis.read_text(encoding="utf-8").strip())
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    if args.render:
        write_section(ROOT / "docs" / "benchmarks.md", "pages", render(json.loads(args.render.read_text())))
        return 0
    args.workdir.mkdir(parents=True, exist_ok=True)
    workdir_info = check_workdir(args.workdir)
    data = args.workdir / f"library-{args.size}"
    if not matching_library(data, args.size):
        print(f"bench: generating a library of {args.size:,} resources in {data}")
        generate(data, args.size)
    env = {**os.environ, "REPO_DATA_DIR": str(data), "REPO_LOG_LEVEL": "warning"}
    _cli("init", env=env)                               # migrate a library made by older code
    teacher = _teacher(data)
    token = _cli("token", "create", teacher, "--name", "bench-pages", env=env).strip().split()[-1]
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    results = {"command": "python bench/pages/run.py" + (" " + " ".join(argv or sys.argv[1:])).rstrip(),
               "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "code": code_version(),
               "size": args.size, "requests": args.requests, "quick": False, "engines": {}, "loadavg": list(os.getloadavg()),
               "machine": machine_info(CLI, workdir_info)}
    for engine in [e.strip() for e in args.engines.split(",") if e.strip()]:
        print(f"bench: pages with {engine}")
        results["engines"][engine] = measure_engine(engine, data, args.requests, token, reuse_index=args.reuse_index)
        save_results("pages", results, stamp)
    path = save_results("pages", results, stamp)
    print(f"bench: results in {path}")
    if not args.no_doc:
        write_section(ROOT / "docs" / "benchmarks.md", "pages", render(results))
    if not args.keep:
        import shutil
        shutil.rmtree(data, ignore_errors=True)
    return 0


def _teacher(data: Path) -> str:
    import sqlite3
    db = sqlite3.connect(data / "catalog.sqlite3")
    (name,) = db.execute("SELECT username FROM users WHERE role='teacher' ORDER BY id LIMIT 1").fetchone()
    db.close()
    return name


if __name__ == "__main__":
    sys.exit(main())
