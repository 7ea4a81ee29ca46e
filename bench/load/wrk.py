"""Running wrk with bench/load/mix.lua and reading the JSON line its done() hook prints."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["run_wrk", "wrk_version"]

MIX = Path(__file__).resolve().parent / "mix.lua"
MB = 1_000_000


def wrk_version() -> str:
    done = subprocess.run(["wrk", "--version"], capture_output=True, text=True, timeout=10)
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else "?"


def run_wrk(scenario: dict[str, Any], *, duration: int, connections: int, threads: int) -> dict[str, Any]:
    """One wrk run of `scenario` (url, paths file, headers file); the summary as a dict.

    `--timeout 30s`: wrk's default (2 s) would count a slow answer as an error; a socket error
    here means a connection really failed or an answer took over 30 s.
    """
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "30s",
            "-s", str(MIX), scenario["url"], "--", str(scenario["paths"]), str(scenario["headers"])]
    env = {**os.environ, "LOAD_COUNT_STATUS": "1" if scenario.get("count_status") else "0"}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 120, env=env)
    if done.returncode != 0:
        raise SystemExit(f"bench: wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    line = next((text for text in done.stdout.splitlines() if text.startswith("LOADJSON ")), None)
    if line is None:
        raise SystemExit(f"bench: wrk printed no summary:\n{done.stdout}\n{done.stderr}")
    raw = json.loads(line.removeprefix("LOADJSON "))
    seconds = raw["duration_us"] / 1e6
    errors = raw["errors"]
    return {
        "requests": raw["requests"],
        "seconds": round(seconds, 2),
        "requests_per_s": round(raw["requests"] / seconds, 1),
        "mb_per_s": round(raw["bytes"] / seconds / MB, 1),
        "bytes": raw["bytes"],
        "latency_ms": {k: round(v / 1000, 2) for k, v in raw["latency_us"].items()},
        # non_2xx is counted only where the scenario asks (count_status), else None.
        "errors": {"non_2xx": raw["non2xx"] if scenario.get("count_status") else None,
                   "status_4xx_5xx": errors["status"],
                   "socket": {k: errors[k] for k in ("connect", "read", "write", "timeout")}},
        "wrk_output": done.stdout.strip().splitlines()[:12],
    }
