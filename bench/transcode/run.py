"""Transcoding benchmark: rendition speed (× realtime), pipeline overhead vs the same ffmpeg argv
run by hand, and upload → first playable rendition for a 10-minute lesson with a real worker.

    .venv/bin/python bench/transcode/run.py            # full: 60 s clips × 3 reps, 10-minute lesson (~30 min)
    .venv/bin/python bench/transcode/run.py --quick    # 10 s clips, 1 rep, 1-minute lesson: a smoke run (~8 min)
    python bench/transcode/run.py --render bench/results/transcode-latest.json   # re-render only

Writes bench/results/transcode-<UTC time>.json (and transcode-latest.json) and the transcode
section of docs/benchmarks.md (between <!-- bench:transcode --> markers; the rest of the page is
left alone). See bench/transcode/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCH_DIR = HERE.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(HERE))

from _common import (REPO_ROOT, _first_line, check_workdir, code_version, find_repo_server,  # noqa: E402
                     save_results)
from report import write_section  # noqa: E402  (bench/report.py)
from transcode_report import render  # noqa: E402

DEFAULT_WORKDIR = Path("/tmp/repo-server-bench-transcode")
GOALS = {"overhead_pct_max": 5.0, "first_playable_s_max": 180.0, "lesson_minutes": 10, "cores": 2}


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="10 s clips, 1 repetition, a 1-minute lesson: a smoke run")
    parser.add_argument("--seconds", type=float, help="length of the noise and slide clips (default 60)")
    parser.add_argument("--lesson-minutes", type=float, help="length of the lesson (default 10)")
    parser.add_argument("--reps", type=int, help="repetitions of each comparison (default 3)")
    parser.add_argument("--only", choices=["speed", "overhead", "lesson"], action="append",
                        help="run only these parts (repeatable; default all three)")
    parser.add_argument("--idle", type=float,
                        help="seconds the worker idles before the upload (default 60: Huey's poll "
                             "interval has grown to its maximum by then, as between real uploads)")
    parser.add_argument("--no-lesson-peer", action="store_true",
                        help="skip running the lesson's poster + 360p by hand")
    parser.add_argument("--quiet-timeout", type=float,
                        help="seconds to wait for other processes to go quiet before each pair (default 90)")
    parser.add_argument("--quiet-cores", type=float, default=0.3,
                        help="'quiet' means other processes use at most this much CPU (default 0.3 cores)")
    parser.add_argument("--max-foreign", type=float, default=0.25,
                        help="a pair of runs during which other processes used more than this share of "
                             "the machine's CPU is not counted and repeated (default 0.25)")
    parser.add_argument("--extra-reps", type=int,
                        help="at most this many repetitions beyond --reps to replace contended ones "
                             "(default 3; 0 with --quick)")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                        help=f"clips, data dirs and outputs, on a real disk (default {DEFAULT_WORKDIR})")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work directory (a later run reuses the generated clips)")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument("--render", type=Path, metavar="RESULTS_JSON",
                        help="measure nothing: rewrite the transcode section from a saved result")
    return parser.parse_args(argv)


def _machine(workdir_info: dict) -> dict:
    from importlib import metadata

    with open("/proc/meminfo", encoding="ascii") as meminfo:
        mem_kib = int(meminfo.readline().split()[1])
    model = "?"
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout if shutil.which("lscpu") else ""
    hypervisor = next((line.split(":", 1)[1].strip() for line in lscpu.splitlines()
                       if line.startswith("Hypervisor vendor")), "none")
    x264 = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\n", "libx264-*"],
                          capture_output=True, text=True).stdout.strip() if shutil.which("dpkg-query") else ""
    versions = {"python": platform.python_version()}
    for package in ("repo-server", "ffmpeg-python", "huey", "SQLAlchemy", "Pillow"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "?"
    return {"cpu_model": model, "cpu_count": os.cpu_count(), "hypervisor": hypervisor,
            "memory_gib": round(mem_kib / 1024**2, 1), "kernel": platform.release(),
            "os": _first_line(["sh", "-c", ". /etc/os-release && echo \"$PRETTY_NAME\""]),
            "disk": workdir_info, "ffmpeg": _first_line(["ffmpeg", "-hide_banner", "-version"]),
            "libx264": x264.splitlines()[0] if x264 else "?", "versions": versions,
            "loadavg_at_start": list(os.getloadavg())}


_MEDIA_CODE = ["repo_server/transcode", "repo_server/services/media_work.py", "repo_server/services/media_jobs.py",
               "repo_server/services/derivatives.py", "repo_server/services/blob_files.py",
               "repo_server/services/resources.py", "repo_server/tasks.py", "repo_server/cli/media.py"]


def _fingerprint() -> str:
    """sha256 (12 hex) of the media code this benchmark exercises, to notice edits during a run."""
    import hashlib

    digest = hashlib.sha256()
    for entry in _MEDIA_CODE:
        path = REPO_ROOT / entry
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(str(file.relative_to(REPO_ROOT)).encode())
            digest.update(file.read_bytes() if file.is_file() else b"-")
    return digest.hexdigest()[:12]


def _write_doc(results: dict) -> None:
    analysis = HERE / "ANALYSIS.md"
    body = render(results, analysis.read_text(encoding="utf-8") if analysis.is_file() else "")
    doc = REPO_ROOT / "docs" / "benchmarks.md"
    write_section(doc, "transcode", body)
    print(f"bench: wrote the transcode section of {doc.relative_to(REPO_ROOT)}", flush=True)


def _ensure_venv() -> None:
    """The measurements import repo_server: re-run under the project's virtualenv if needed."""
    try:
        import repo_server  # noqa: F401
    except ImportError:
        python = REPO_ROOT / ".venv" / "bin" / "python"
        if python.is_file() and Path(sys.executable).resolve() != python.resolve():
            os.execv(str(python), [str(python), *sys.argv])
        raise SystemExit("bench: repo_server is not importable; run with .venv/bin/python") from None


def _log(message: str) -> None:
    print(message, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    if args.render:
        _write_doc(json.loads(args.render.read_text(encoding="utf-8")))
        return 0
    _ensure_venv()
    for tool in ("ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench: {tool} is not installed")
    os.chdir(REPO_ROOT)
    sys.path.insert(0, str(REPO_ROOT))
    from clips import make_clip
    from lesson import run_lesson
    from measure import measure_overhead, measure_speed

    seconds = args.seconds or (10.0 if args.quick else 60.0)
    lesson_s = (args.lesson_minutes or (1.0 if args.quick else GOALS["lesson_minutes"])) * 60
    reps = args.reps or (1 if args.quick else 3)
    parts = args.only or ["speed", "overhead", "lesson"]
    quiet = {"max_busy_cores": args.quiet_cores,
             "timeout_s": args.quiet_timeout if args.quiet_timeout is not None else (5.0 if args.quick else 90.0)}
    noise = {"max_foreign": args.max_foreign,
             "extra_reps": args.extra_reps if args.extra_reps is not None else (0 if args.quick else 3)}
    idle = args.idle if args.idle is not None else (3.0 if args.quick else 60.0)
    repo_server = find_repo_server()
    workdir_info = check_workdir(args.workdir)
    started = datetime.now(timezone.utc)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    results: dict = {
        "command": " ".join([".venv/bin/python bench/transcode/run.py",
                             shlex.join(sys.argv[1:] if argv is None else argv)]).strip(),
        "date": started.strftime("%Y-%m-%d %H:%M UTC"), "quick": args.quick, "partial": True,
        "code": code_version(), "media_code": {"start": _fingerprint()}, "machine": _machine(workdir_info), "goals": GOALS, "reps": reps,
        "quiet": quiet, "noise": noise, "idle_s": idle, "inputs": {}, "speed": {}, "overhead": {}, "lesson": None,
    }
    _log(f"bench: work directory {args.workdir} ({workdir_info['fstype']} on {workdir_info['device']}); "
         f"load {os.getloadavg()[0]:.2f}")
    clips = {}
    wanted = (["noise", "slides"] if {"speed", "overhead"} & set(parts) else []) + \
        (["lesson"] if "lesson" in parts else [])
    for kind in wanted:
        clips[kind] = make_clip(args.workdir, kind, lesson_s if kind == "lesson" else seconds, log=_log)
        results["inputs"][kind] = {k: v for k, v in clips[kind].items() if k != "path"}
    for clip in clips.values():        # into the page cache, for both sides alike
        with open(clip["path"], "rb") as stream:
            while stream.read(8 << 20):
                pass
    save_results("transcode", results, stamp)
    if "speed" in parts:
        for kind in ("noise", "slides"):
            _log(f"bench: × realtime, {kind}: 360p and 720p, runner.run vs by hand, {reps} rep(s)")
            results["speed"][kind] = measure_speed(args.workdir, clips[kind], reps, quiet, noise, log=_log)
            save_results("transcode", results, stamp)
    if "overhead" in parts:
        for kind in ("noise", "slides"):
            _log(f"bench: pipeline overhead, {kind}: run_job vs its ffmpeg argvs by hand, {reps} rep(s)")
            results["overhead"][kind] = measure_overhead(args.workdir, clips[kind], reps, quiet, noise,
                                                         log=_log)
            save_results("transcode", results, stamp)
    if "lesson" in parts:
        # The worker subprocess loads repo_server when it starts, the in-process parts loaded it
        # when this run started: note both versions (others commit while a long run goes on).
        results["media_code"]["lesson_worker"] = _fingerprint()
        results["code_at_lesson"] = code_version()
        _log(f"bench: upload → first playable, {lesson_s / 60:g}-minute lesson, real `repo-server worker`")
        results["lesson"] = run_lesson(args.workdir, clips["lesson"], repo_server, idle_s=idle,
                                       hand_peer=not args.no_lesson_peer, quiet=quiet, keep=args.keep,
                                       log=_log)
        _log(f"bench:   first playable after {results['lesson']['to_first_playable_s']} s, "
             f"job done after {results['lesson']['to_job_done_s']} s")
    results["partial"] = False
    results["code_at_end"] = code_version()
    results["media_code"]["end"] = _fingerprint()
    if results["media_code"].get("lesson_worker", results["media_code"]["start"]) != results["media_code"]["start"]:
        _log(f"bench: WARNING: the media code changed during the run (others edit it): the lesson's worker ran "
             f"{results['code_at_lesson']}, the other parts {results['code']}.")
    results["machine"]["loadavg_at_end"] = list(os.getloadavg())
    results["duration_s"] = round(time.time() - started.timestamp(), 1)
    path = save_results("transcode", results, stamp)
    if not args.no_doc:
        _write_doc(results)
    _log(f"bench: results in {path.relative_to(REPO_ROOT)} ({results['duration_s'] / 60:.1f} min)")
    if not args.keep:
        shutil.rmtree(args.workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
