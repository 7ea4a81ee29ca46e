"""Search benchmark: index build rate, index size, query latency, freshness, both engines.

    python bench/search/run.py                                   # 10k, 100k, 1M; whoosh and tantivy
    python bench/search/run.py --sizes 10000,100000 --engines tantivy
    python bench/search/run.py --quick                           # 2,000 resources: a sanity run

Writes bench/results/search-<UTC time>.json (and search-latest.json) and the search section of
docs/benchmarks.md (between <!-- bench:search --> markers; the rest of the page is left alone).
Standard library only: every measurement runs in a fresh process of the project's
virtualenv (bench/search/measure.py), the freshness test against a real `repo-server serve`.
See bench/search/README.md.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

SEARCH_DIR = Path(__file__).resolve().parent
BENCH_DIR = SEARCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(SEARCH_DIR))

from _common import REPO_ROOT, check_workdir, code_version, find_repo_server, save_results  # noqa: E402
from freshness import run_freshness  # noqa: E402
from generate import matching_library  # noqa: E402
from report import write_section  # noqa: E402  (bench/report.py)
from search_report import render  # noqa: E402

DEFAULT_WORKDIR = Path("/tmp/repo-server-bench-search")
GOALS = {"tantivy": {"p95_ms_max": 50, "at_size": 1_000_000, "docs_per_s_min": 1000},
         "whoosh": {"p95_ms_max": 150, "at_size": 100_000, "docs_per_s_min": 150},
         "freshness_s_max": 2.0}
WHOOSH_LIMIT = 100_000          # DESIGN.md: Whoosh is for libraries up to ~100,000 items


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000",
                        help="library sizes, comma-separated (default 10000,100000,1000000)")
    parser.add_argument("--engines", default="whoosh,tantivy", help="default whoosh,tantivy")
    parser.add_argument("--quick", action="store_true", help="2,000 resources, 2 rounds, 10 uploads")
    parser.add_argument("--rounds", type=int, help="timed rounds of the query mix (default 5)")
    parser.add_argument("--uploads", type=int, help="uploads in the freshness test (default 30)")
    parser.add_argument("--freshness-size", type=int,
                        help="library the freshness server runs on (default: the smallest size)")
    parser.add_argument("--no-freshness", action="store_true", help="skip the freshness test")
    parser.add_argument("--whoosh-max-minutes", type=float, default=90.0,
                        help="skip a Whoosh build estimated to take longer (default 90)")
    parser.add_argument("--profile", action="store_true",
                        help="also save cProfile profiles of every build and query run in bench/results/")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                        help=f"libraries and servers, on a real disk (default {DEFAULT_WORKDIR})")
    parser.add_argument("--keep", action="store_true",
                        help="keep the generated libraries (a later run with the same sizes reuses them)")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument("--render", type=Path, metavar="RESULTS_JSON",
                        help="measure nothing: rewrite the search section from a saved result")
    return parser.parse_args(argv)


def _venv_python(repo_server: Path) -> Path:
    return repo_server.parent / "python"


def _measure(python: Path, command: str, out: Path, *args: str) -> dict:
    argv = [str(python), str(SEARCH_DIR / "measure.py"), command, "--out", str(out), *args]
    print("bench: " + " ".join(shlex.quote(a) for a in argv[1:]), flush=True)
    started = time.monotonic()
    subprocess.run(argv, check=True, cwd=REPO_ROOT)
    result = json.loads(out.read_text(encoding="utf-8"))
    result["wall_s"] = round(time.monotonic() - started, 1)
    return result


def _library(python: Path, workdir: Path, size: int) -> tuple[Path, dict]:
    path = workdir / f"library-{size}"
    info = matching_library(path, size)
    if info is not None:
        print(f"bench: reusing {path} (generated earlier in {info['seconds']} s)", flush=True)
        return path, {**info, "reused": True}
    shutil.rmtree(path, ignore_errors=True)
    info = _measure(python, "generate", workdir / f"generate-{size}.json", "--data", str(path), "--size", str(size))
    return path, {**info, "reused": False}


def _versions(python: Path) -> dict:
    code = ("import json, sys, importlib.metadata as m; print(json.dumps({'python': sys.version.split()[0], "
            "**{p: m.version(p) for p in ('tantivy', 'whoosh3', 'rjieba', 'OpenCC', 'pypinyin', 'SQLAlchemy', "
            "'gunicorn')}}))")
    return json.loads(subprocess.run([str(python), "-c", code], check=True, capture_output=True, text=True).stdout)


def _machine(python: Path, workdir_info: dict) -> dict:
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        mem_kib = int(meminfo.readline().split()[1])
    model = "?"
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    import os
    import platform
    return {"cpu_model": model, "cpu_count": os.cpu_count(), "memory_gib": round(mem_kib / 1024**2, 1),
            "kernel": platform.release(), "disk": workdir_info, "versions": _versions(python)}


def _whoosh_estimate(results: dict, size: int) -> float | None:
    """Seconds a Whoosh build of `size` would take, from the largest size measured so far."""
    measured = [(int(s), r["engines"]["whoosh"]["build"]) for s, r in results["sizes"].items()
                if r["engines"].get("whoosh", {}).get("build")]
    if not measured:
        return None
    _, build = max(measured)
    rate = build.get("docs_per_s_second_half") or build["docs_per_s"]
    return size / min(rate, build["docs_per_s"])


def _write_doc(results: dict) -> None:
    analysis = SEARCH_DIR / "ANALYSIS.md"
    body = render(results, GOALS, analysis.read_text(encoding="utf-8") if analysis.is_file() else "")
    doc = REPO_ROOT / "docs" / "benchmarks.md"
    write_section(doc, "search", body)
    print(f"bench: wrote the search section of {doc.relative_to(REPO_ROOT)}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    if args.render:
        _write_doc(json.loads(args.render.read_text(encoding="utf-8")))
        return 0
    sizes = [2000] if args.quick else [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if set(engines) - {"whoosh", "tantivy"}:
        raise SystemExit("bench: --engines takes whoosh and/or tantivy")
    rounds = args.rounds or (2 if args.quick else 5)
    uploads = args.uploads or (10 if args.quick else 30)
    fresh_size = args.freshness_size or min(sizes)
    repo_server = find_repo_server()
    python = _venv_python(repo_server)
    workdir_info = check_workdir(args.workdir)
    started = datetime.now(timezone.utc)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    profiles = BENCH_DIR / "results" / f"search-profiles-{stamp}" if args.profile else None
    if profiles:
        profiles.mkdir(parents=True, exist_ok=True)
    results: dict = {
        "command": " ".join(["python bench/search/run.py",
                             shlex.join(sys.argv[1:] if argv is None else argv)]).strip(),
        "date": started.strftime("%Y-%m-%d %H:%M UTC"), "quick": args.quick, "partial": True,
        "code": code_version(), "machine": _machine(python, workdir_info), "rounds": rounds,
        "engines": engines, "goals": GOALS, "sizes": {}, "freshness": {},
    }
    print(f"bench: work directory {args.workdir} ({workdir_info['fstype']} on {workdir_info['device']})",
          flush=True)
    for size in sorted(sizes):
        library, info = _library(python, args.workdir, size)
        entry = results["sizes"][str(size)] = {"library": info, "engines": {}}
        save_results("search", results, stamp)
        for engine in engines:
            if engine == "whoosh" and size > WHOOSH_LIMIT:
                estimate = _whoosh_estimate(results, size)
                if estimate is None or estimate > args.whoosh_max_minutes * 60:
                    entry["engines"][engine] = {"skipped": True, "estimated_build_s": estimate,
                                                "reason": f"Whoosh is for ≤ {WHOOSH_LIMIT:,} items (DESIGN.md)"}
                    print(f"bench: whoosh at {size:,} not run (estimated "
                          f"{(estimate or 0) / 3600:.1f} h)", flush=True)
                    continue
            run: dict = {}
            entry["engines"][engine] = run
            def prof(what: str, engine: str = engine, size: int = size) -> list[str]:
                return ["--profile", str(profiles / f"{what}-{engine}-{size}.prof")] if profiles else []
            run["build"] = _measure(python, "build", args.workdir / f"build-{engine}-{size}.json",
                                    "--data", str(library), "--engine", engine, *prof("build"))
            save_results("search", results, stamp)
            run["query"] = _measure(python, "query", args.workdir / f"query-{engine}-{size}.json",
                                    "--data", str(library), "--engine", engine, "--rounds", str(rounds),
                                    *prof("query"))
            save_results("search", results, stamp)
        if size == fresh_size and not args.no_freshness:
            ctx = {"workdir": args.workdir, "repo_server": repo_server, "keep": args.keep,
                   "library_documents": size}
            for engine in engines:
                if "build" not in entry["engines"].get(engine, {}):
                    continue
                print(f"bench: freshness, {engine}, {uploads} uploads on the {size:,} library", flush=True)
                results["freshness"][engine] = run_freshness(ctx, library, engine, uploads)
                results["freshness"][engine]["library_size"] = size
                save_results("search", results, stamp)
        if not args.keep:
            shutil.rmtree(library, ignore_errors=True)
    results["partial"] = False
    results["duration_s"] = round(time.time() - started.timestamp(), 1)
    path = save_results("search", results, stamp)
    if not args.no_doc:
        _write_doc(results)
    print(f"bench: results in {path.relative_to(REPO_ROOT)} ({results['duration_s']} s)", flush=True)
    if not args.keep:
        for leftover in args.workdir.glob("*.json"):
            leftover.unlink()
        try:
            args.workdir.rmdir()
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
