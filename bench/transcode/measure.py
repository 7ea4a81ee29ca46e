"""The two interleaved comparisons: renditions through runner.run vs by hand (× realtime), and
the whole run_job vs the same ffmpeg argvs by hand (pipeline overhead)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from statistics import median
from typing import Any, Callable

from pipeline import (Library, ingest_file, job_argvs, rendition_argvs, run_job_timed, run_with_runner,
                      source_info, timeout_for)
from repo_server.transcode.probe import probe
from repo_server.transcode.profiles import video_profiles_for
from repo_server.transcode.video import duration_matches
from timing import Measured, Meter, run_by_hand, wait_quiet

__all__ = ["measure_speed", "measure_overhead"]


def _runner(argv: list[str], duration: float) -> Measured:
    """The product's way: runner.run (nice 10, own session, reader threads parsing -progress),
    exactly as media_work._Job.ffmpeg calls it."""
    with Meter() as meter:
        result = run_with_runner(argv, duration)
    if result.returncode != 0:
        raise RuntimeError(f"runner.run: {argv[0]} exited {result.returncode}: {result.stderr[-500:]}")
    return meter.result


def _more(runs: list[dict[str, Any]], reps: int, noise: dict[str, float]) -> bool:
    """Another repetition? Until `reps` clean ones, or `reps + extra` in all."""
    clean = sum(1 for r in runs if r["clean"])
    return clean < reps and len(runs) < reps + noise["extra_reps"]


def _judge(entry: dict[str, Any], sides: list[dict[str, Any]], noise: dict[str, float],
           log: Callable[[str], None]) -> None:
    """A pair is clean when other processes used at most `max_foreign` of the machine during
    each side; a contended pair is kept in the results but left out of the medians (and another
    repetition is run, up to `extra_reps`)."""
    worst = max(side["foreign_share"] for side in sides)
    entry["clean"] = worst <= noise["max_foreign"]
    if not entry["clean"]:
        log(f"bench:   rep {entry['rep']}: other processes used {worst * 100:.0f} % of the CPU "
            f"(> {noise['max_foreign'] * 100:.0f} %): not counted, another repetition follows if allowed")


def _cost_split(src: Path, info, duration: float, quiet: dict[str, float],
                log: Callable[[str], None]) -> dict[str, Any]:
    """Where a rendition's CPU goes: the same input decoded only; decoded and scaled to each
    profile's height (the rendition's filter chain, output discarded: `-f null`); the audio
    encoded alone. What the full rendition costs beyond those is x264's encoding. By hand,
    nice 10, one run each (informational)."""
    base = ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-i", str(src)]
    argvs = {"decode": [*base, "-map", "0:v:0", "-f", "null", "-"]}
    for p in video_profiles_for(info):
        argvs[f"decode+scale {p.name}"] = [*base, "-map", "0:v:0", "-vf",
                                           f"scale=w=-2:h={min(p.height, info.video.short_side)},format=yuv420p",
                                           "-f", "null", "-"]
    if info.audio is not None:
        argvs["audio"] = [*base, "-map", "0:a:0", "-c:a", "aac", "-b:a", "96k", "-ac", "2", "-ar", "48000",
                          "-f", "null", "-"]
    wait_quiet(**quiet, log=log)
    return {"argv": argvs, "runs": {name: run_by_hand(argv, timeout_s=timeout_for(duration)).as_dict()
                                    for name, argv in argvs.items()}}


def _check_output(path: Path, duration: float) -> dict[str, Any]:
    info = probe(path)
    if not duration_matches(duration, info.duration):
        raise RuntimeError(f"{path.name} lasts {info.duration:.1f} s, the input {duration:.1f} s")
    return {"size_bytes": path.stat().st_size, "duration_s": round(info.duration, 3),
            "bit_rate": info.bit_rate, "width": info.video.width if info.video else None,
            "height": info.video.height if info.video else None}


def measure_speed(workdir: Path, clip: dict[str, Any], reps: int, quiet: dict[str, float],
                  noise: dict[str, float], log: Callable[[str], None] = print) -> dict[str, Any]:
    """Each repetition runs video-360p then video-720p back to back ("both" is that pair, timed
    as one), once through runner.run and once by hand, alternating which side goes first."""
    src = Path(clip["path"])
    info = source_info(src)
    duration = info.duration
    out = workdir / f"speed-{clip['kind']}"
    out.mkdir(parents=True, exist_ok=True)
    argvs = rendition_argvs(src, out, info)          # the same argv for both sides
    names = list(argvs)
    runs: list[dict[str, Any]] = []
    while _more(runs, reps, noise):
        rep = len(runs)
        order = ["by_hand", "runner"] if rep % 2 == 0 else ["runner", "by_hand"]
        entry: dict[str, Any] = {"rep": rep + 1, "order": order, "quiet": wait_quiet(**quiet, log=log)}
        for side in order:
            os.sync()
            timings: dict[str, Any] = {}
            with Meter() as pair:
                for name in names:
                    one = run_by_hand(argvs[name], timeout_s=timeout_for(duration)) if side == "by_hand" \
                        else _runner(argvs[name], duration)
                    timings[name] = one.as_dict()
            timings["both"] = pair.result.as_dict()
            entry[side] = timings
            log(f"bench:   {clip['kind']} rep {rep + 1} {side:<8} " + "  ".join(
                f"{n} {timings[n]['wall_s']:.1f} s ({duration / timings[n]['wall_s']:.2f}×)"
                for n in [*names, "both"]))
        _judge(entry, [entry[side]["both"] for side in order], noise, log)
        runs.append(entry)
    used = [r for r in runs if r["clean"]] or runs
    outputs = {name: _check_output(out / f"{name}.mp4", duration) for name in names}
    log(f"bench:   {clip['kind']}: what a rendition costs: decoding, scaling, audio (one run each)")
    split = _cost_split(src, info, duration, quiet, log)
    shutil.rmtree(out, ignore_errors=True)
    result: dict[str, Any] = {"duration_s": round(duration, 3), "renditions": names, "argv": argvs,
                              "runs": runs, "used_reps": [r["rep"] for r in used], "outputs": outputs,
                              "cost_split": split,
                              "median_wall_s": {}, "x_realtime": {}, "median_cpu_s": {},
                              "ratio_runner_to_hand": {}}
    for side in ("by_hand", "runner"):
        result["median_wall_s"][side], result["x_realtime"][side], result["median_cpu_s"][side] = {}, {}, {}
        for name in [*names, "both"]:
            wall = median(r[side][name]["wall_s"] for r in used)
            result["median_wall_s"][side][name] = round(wall, 3)
            result["x_realtime"][side][name] = round(duration / wall, 3)
            result["median_cpu_s"][side][name] = round(median(
                r[side][name]["cpu_children_s"] + r[side][name]["cpu_self_s"] for r in used), 2)
    for name in [*names, "both"]:
        result["ratio_runner_to_hand"][name] = round(
            result["median_wall_s"]["runner"][name] / result["median_wall_s"]["by_hand"][name], 4)
    return result


def _breakdown(wall: float, b: dict[str, Any]) -> dict[str, float]:
    """Where run_job's wall time went: ffmpeg, ffprobe (source + each rendition), thumbnail
    (Pillow), storing outputs (copy into staging + sha256 + blob + catalog row), the other
    catalog writes (claim, states, finish), and the rest (scratch dir, threads, Python)."""
    calls = b["calls"]

    def s(*names: str) -> float:
        return sum(calls.get(n, {}).get("s", 0.0) for n in names)

    parts = {"ffmpeg": sum(b["ffmpeg"].values()), "ffprobe": s("probe"), "thumbnail": s("thumbnail"),
             "store_outputs": s("store_output"),
             "catalog_writes": s("set_state", "drop_derivative", "claim_job", "finish_job", "done_profiles"),
             "source_path": s("local_copy")}
    parts["other"] = wall - sum(parts.values())
    return {k: round(v, 3) for k, v in parts.items()}


def measure_overhead(workdir: Path, clip: dict[str, Any], reps: int, quiet: dict[str, float],
                     noise: dict[str, float], log: Callable[[str], None] = print) -> dict[str, Any]:
    """Each repetition: a fresh library with the clip ingested (not timed), then, in alternating
    order, run_job on its media job and the job's ffmpeg argvs one after the other by hand."""
    src = Path(clip["path"])
    info = source_info(src)
    duration = info.duration
    hand_out = workdir / f"hand-{clip['kind']}"
    hand_out.mkdir(parents=True, exist_ok=True)
    argvs = job_argvs(src, hand_out, info)
    runs: list[dict[str, Any]] = []
    while _more(runs, reps, noise):
        rep = len(runs)
        lib = Library(workdir / f"data-{clip['kind']}-{rep + 1}")
        try:
            _view, job_id, _times = ingest_file(lib, src, f"bench {clip['kind']} {rep + 1}")
            order = ["by_hand", "pipeline"] if rep % 2 == 0 else ["pipeline", "by_hand"]
            entry: dict[str, Any] = {"rep": rep + 1, "order": order, "quiet": wait_quiet(**quiet, log=log)}
            for side in order:
                os.sync()
                if side == "by_hand":
                    steps = {}
                    with Meter() as total:
                        for name, argv in argvs.items():
                            steps[name] = run_by_hand(argv, timeout_s=timeout_for(duration)).as_dict()
                    entry["by_hand"] = {"total": total.result.as_dict(), "steps": steps}
                    log(f"bench:   {clip['kind']} rep {rep + 1} by hand  {total.result.wall_s:.1f} s (" +
                        ", ".join(f"{n} {s['wall_s']:.1f}" for n, s in steps.items()) + ")")
                else:
                    with Meter() as total:
                        outcome, breakdown = run_job_timed(lib, job_id)
                    if outcome.status != "done":
                        raise RuntimeError(f"run_job on {clip['kind']}: {outcome.status} {outcome.message}")
                    entry["pipeline"] = {"total": total.result.as_dict(), "raw": breakdown,
                                         "breakdown": _breakdown(total.result.wall_s, breakdown)}
                    log(f"bench:   {clip['kind']} rep {rep + 1} run_job  {total.result.wall_s:.1f} s (" +
                        ", ".join(f"{k} {v:.2f}" for k, v in entry["pipeline"]["breakdown"].items()) + ")")
            hand_s, pipe_s = entry["by_hand"]["total"]["wall_s"], entry["pipeline"]["total"]["wall_s"]
            entry["overhead_pct"] = round((pipe_s / hand_s - 1) * 100, 2)
            _judge(entry, [entry[side]["total"] for side in order], noise, log)
            runs.append(entry)
        finally:
            lib.close()
    shutil.rmtree(hand_out, ignore_errors=True)
    every, runs = runs, [r for r in runs if r["clean"]] or runs
    hand = median(r["by_hand"]["total"]["wall_s"] for r in runs)
    pipe = median(r["pipeline"]["total"]["wall_s"] for r in runs)
    hand_cpu = median(r["by_hand"]["total"]["cpu_children_s"] + r["by_hand"]["total"]["cpu_self_s"] for r in runs)
    pipe_cpu = median(r["pipeline"]["total"]["cpu_children_s"] + r["pipeline"]["total"]["cpu_self_s"]
                      for r in runs)
    parts = runs[0]["pipeline"]["breakdown"].keys()
    step_names = list(argvs)
    return {
        "duration_s": round(duration, 3), "steps": step_names, "argv": argvs, "runs": every,
        "used_reps": [r["rep"] for r in runs],
        "median_by_hand_s": round(hand, 3), "median_pipeline_s": round(pipe, 3),
        "ratio_pipeline_to_hand": round(pipe / hand, 4), "overhead_pct": round((pipe / hand - 1) * 100, 2),
        "median_paired_overhead_pct": round(median(r["overhead_pct"] for r in runs), 2),
        "median_cpu_s": {"by_hand": round(hand_cpu, 2), "pipeline": round(pipe_cpu, 2)},
        "median_breakdown_s": {k: round(median(r["pipeline"]["breakdown"][k] for r in runs), 3) for k in parts},
        "median_step_s": {
            "by_hand": {n: round(median(r["by_hand"]["steps"][n]["wall_s"] for r in runs), 3) for n in step_names},
            "pipeline": {n: round(median(r["pipeline"]["raw"]["ffmpeg"].get(n, 0.0) for r in runs), 3)
                         for n in step_names}},
        "median_calls": {name: {"n": runs[0]["pipeline"]["raw"]["calls"][name]["n"],
                                "s": round(median(r["pipeline"]["raw"]["calls"].get(name, {}).get("s", 0.0)
                                                  for r in runs), 4)}
                         for name in runs[0]["pipeline"]["raw"]["calls"]},
    }
