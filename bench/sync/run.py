#!/usr/bin/env python3
"""Sync benchmark (issue 6): scripts/repo-sync against a real rsync daemon on 127.0.0.1, a
library of 10,000 resources, compared with a plain `rsync -a` of the same objects.

    .venv/bin/python bench/sync/run.py                          # 10k resources, 250 MB of files
    .venv/bin/python bench/sync/run.py --size 1000 --total-mb 20 --no-bwlimit --no-doc   # a smoke run
    .venv/bin/python bench/sync/run.py --render bench/results/sync-latest.json      # page only

The upstream is the search benchmark's synthetic library (bench/search/generate.py) given
real blob files by bench/sync/library.py (sizes scaled down, see there and the doc), published
with `repo-server mirror publish` and served by `rsync --daemon` with the config
`repo-server mirror rsyncd-conf` writes (one school account). Every sync and every plain
rsync goes through a counting TCP proxy on loopback (bench/sync/proxy.py): "bytes on the
wire" is every byte of every connection of a run, both directions. One run measures, in order:

(a) the first full sync into a fresh data dir vs `rsync -a rsync://…/repo/objects/ DIR/`;
(b) a second sync with nothing published meanwhile;
(c) 1 % of the resources changed upstream (half new metadata, half a replaced file),
    published, synced; the bytes compared with the new objects' bytes + the manifest delta;
(d) (a) and (c) again with --bwlimit 2500 (20 Mbit/s) on both sides.

Writes bench/results/sync-<UTC time>.json and the `<!-- bench:sync -->` section of
docs/benchmarks.md (with bench/sync/ANALYSIS.md appended).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
ROOT = BENCH.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve() and VENV_PYTHON.exists():
    os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), *sys.argv])   # it imports repo_server
sys.path[:0] = [str(BENCH), str(BENCH / "search"), str(HERE)]

from _common import check_workdir, code_version, free_port, machine_info, save_results  # noqa: E402
from _servers import _stop  # noqa: E402
from generate import generate, matching_library  # noqa: E402
from library import change, realise  # noqa: E402
from proxy import CountingProxy  # noqa: E402
from report import write_section  # noqa: E402

CLI = ROOT / ".venv" / "bin" / "repo-server"
SYNC = ROOT / "scripts" / "repo-sync"
GOAL_FULL_RATIO = 1.1
GOAL_NOCHANGE_S = 2.0
GOAL_NOCHANGE_BYTES = 50 * 1000
GOAL_UPDATE_RATIO = 1.05
MB = 1_000_000


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=10_000, help="resources in the library (10,000)")
    parser.add_argument("--total-mb", type=int, default=250, help="bytes of all blob files, MB (250)")
    parser.add_argument("--share", type=float, default=0.01, help="share of resources changed in (c) (0.01)")
    parser.add_argument("--bwlimit", type=int, default=2500, help="KB/s for (d) (2500 = 20 Mbit/s)")
    parser.add_argument("--no-bwlimit", action="store_true", help="skip (d)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/repo-server-bench-sync"))
    parser.add_argument("--keep", action="store_true", help="keep the generated upstream for the next run")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument("--render", type=Path, help="only rewrite the section from this results file")
    return parser.parse_args(argv)


def _env(data: Path, name: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPO_")}
    return {**env, "REPO_DATA_DIR": str(data), "REPO_MIRROR_NAME": name, "REPO_SECRET_KEY": "bench-sync",
            "REPO_LOG_LEVEL": "warning"}


def _cli(*args: str, env: dict) -> str:
    done = subprocess.run([str(CLI), *args], env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"bench: repo-server {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def _tree_objects(mirror: Path) -> dict[str, int]:
    out = {}
    for directory, _, files in os.walk(mirror / "objects"):
        for name in files:
            out[name] = os.stat(os.path.join(directory, name)).st_size
    return out


def _warm(paths: list[Path]) -> None:
    """Read every object once: both sides of a comparison then read from the page cache."""
    for root in paths:
        for directory, _, files in os.walk(root):
            for name in files:
                with open(os.path.join(directory, name), "rb") as stream:
                    while stream.read(1 << 20):
                        pass


class Upstream:
    def __init__(self, data: Path) -> None:
        self.data, self.env = data, _env(data, "city")
        self.daemon: subprocess.Popen | None = None
        self.proxy: CountingProxy | None = None

    def publish(self) -> dict:
        started = time.perf_counter()
        report = json.loads(_cli("mirror", "publish", "--json", env=self.env))
        return {"seconds": round(time.perf_counter() - started, 2), "report": report}

    def current(self) -> dict:
        return json.loads((self.data / "mirror" / "CURRENT").read_text())

    def start(self, workdir: Path) -> None:
        schools = _cli("mirror", "list-schools", env=self.env)
        if "bench" not in schools.split():
            _cli("mirror", "add-school", "bench", env=self.env)
        secret = dict(line.split(":", 1) for line in (self.data / "rsyncd.secrets").read_text().split())["bench"]
        self.password = workdir / "password"
        self.password.write_text(secret + "\n")
        self.password.chmod(0o600)
        port = free_port()
        conf = workdir / "rsyncd.conf"
        conf.write_text(_cli("mirror", "rsyncd-conf", "--port", str(port), "--address", "127.0.0.1", env=self.env))
        self.daemon = subprocess.Popen(["rsync", "--daemon", "--no-detach", f"--config={conf}"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        import socket
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("bench: the rsync daemon did not start") from None
                time.sleep(0.1)
        self.proxy = CountingProxy(port)
        self.url = f"rsync://bench@127.0.0.1:{self.proxy.port}/repo"

    def stop(self) -> None:
        if self.proxy:
            self.proxy.close()
        if self.daemon:
            _stop(self.daemon, 10, 10)


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def repo_sync(up: Upstream, school: Path, bwlimit: int | None, engine: str = "whoosh") -> dict:
    env = {**_env(school, school.name), "REPO_SEARCH_ENGINE": engine}
    argv = [str(SYNC), "--upstream", up.url, "--data-dir", str(school), "--password-file", str(up.password),
            *(["--bwlimit", str(bwlimit)] if bwlimit else [])]
    up.proxy.reset()
    load = _load()
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    wire = up.proxy.total
    if done.returncode:
        raise SystemExit(f"bench: repo-sync failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    trace = json.loads((school / "sync" / "trace.jsonl").read_text().splitlines()[-1])
    keep = ("serial", "manifest_from", "objects", "object_bytes", "stage1_s", "apply_s", "index", "index_s", "created",
            "updated", "removed", "bytes", "duration_s", "incremental", "needed_objects", "overlap", "stage2_wait_s")
    return {"seconds": round(wall, 2), "wire_bytes": wire, "connections": up.proxy.connections,
            "load_before": load, "trace": {k: trace.get(k) for k in keep}, "summary": done.stdout.strip()}


def plain_rsync(up: Upstream, dest: Path, bwlimit: int | None) -> dict:
    dest.mkdir(parents=True, exist_ok=True)
    argv = ["rsync", "-a", "--stats", f"--password-file={up.password}",
            *([f"--bwlimit={bwlimit}"] if bwlimit else []), f"{up.url}/objects/", f"{dest}/"]
    up.proxy.reset()
    load = _load()
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"bench: plain rsync failed ({done.returncode}):\n{done.stderr}")
    return {"seconds": round(wall, 2), "wire_bytes": up.proxy.total, "connections": up.proxy.connections,
            "load_before": load}


def update(up: Upstream, share: float) -> dict:
    """Change `share` of the resources, publish; what a mirror must now fetch. The edits are
    seeded by the serial about to be published, so an upstream kept from an earlier run
    (--keep) gets new content, never edits it already holds."""
    before = _tree_objects(up.data / "mirror")
    edited = change(up.data, share, seed=int(up.current()["serial"]) + 1)
    published = up.publish()
    after = _tree_objects(up.data / "mirror")
    new = {sha: size for sha, size in after.items() if sha not in before}
    current = up.current()
    delta = current.get("delta") or {}
    return {"edited": edited, "publish_s": published["seconds"], "serial": current["serial"],
            "new_objects": len(new), "new_object_bytes": sum(new.values()), "delta_bytes": delta.get("size", 0),
            "manifest_bytes": current["size"]}


def measure(args: argparse.Namespace, up: Upstream, work: Path) -> dict:
    res: dict = {}
    print("bench: (a) first full sync vs plain rsync -a")
    res["full"] = {"plain": plain_rsync(up, work / "plain", None), "sync": repo_sync(up, work / "school", None)}
    print("bench: (a) informational: the same first sync into a mirror on Tantivy")
    res["full_tantivy"] = {"plain": res["full"]["plain"],
                           "sync": repo_sync(up, work / "school-tantivy", None, engine="tantivy")}
    print("bench: (b) no change")
    res["nochange"] = repo_sync(up, work / "school", None)
    print(f"bench: (c) {args.share:.0%} changed")
    res["update"] = update(up, args.share)
    res["update"]["plain"] = plain_rsync(up, work / "plain", None)
    res["update"]["sync"] = repo_sync(up, work / "school", None)
    if not args.no_bwlimit:
        bw = args.bwlimit
        print(f"bench: (d) --bwlimit {bw}: full")
        res["bw_full"] = {"plain": plain_rsync(up, work / "plain-bw", bw), "sync": repo_sync(up, work / "school-bw", bw)}
        print(f"bench: (d) --bwlimit {bw}: {args.share:.0%} changed")
        res["bw_update"] = update(up, args.share)
        res["bw_update"]["plain"] = plain_rsync(up, work / "plain-bw", bw)
        res["bw_update"]["sync"] = repo_sync(up, work / "school-bw", bw)
    return res


# -- the page ---------------------------------------------------------------------------------

def _met(ok: bool) -> str:
    return "✔" if ok else "**✘**"


def _mb(n: int) -> str:
    return f"{n / MB:.2f} MB" if n >= 100_000 else f"{n / 1000:.1f} KB"


def _opt_s(value: float | None) -> str:
    return f"{value:.2f} s" if value is not None else "–"


def render(res: dict) -> str:
    lib, m = res["library"], res["measure"]
    out = ["## Mirror sync", "",
           f"Generated by `{res['command']}` on {res['date']}, code at {res['code']}. Rerun that command to refresh "
           "this section. Raw numbers: bench/results/sync-*.json (not in git). scripts/repo-sync against "
           "`rsync --daemon` (the rsyncd.conf of `repo-server mirror rsyncd-conf`) on 127.0.0.1; every byte of "
           "every connection of a run, both directions, counted by a TCP proxy on loopback that both repo-sync "
           "and the plain rsync go through. Wall time = the whole `scripts/repo-sync` process (catalog and "
           "search index included).", "",
           f"Library: {res['size']:,} resources of the search benchmark's generator, {lib['published']:,} of them "
           f"public and published (what a mirror gets); {lib['objects']:,} objects in the tree, "
           f"{lib['object_bytes'] / MB:.0f} MB (originals + extracted texts), manifest "
           f"{lib['manifest_bytes'] / MB:.1f} MB. **Scaled sizes:** the generator's blob sizes (documents "
           "uniform 40 KB–8 MB, videos to 80 MB: ~{:.0f} GB for this library) multiplied by {:.4f} so that the "
           "files come to {:.0f} MB (median {}, 90th percentile {}, largest {}); a full sync at 20 Mbit/s then "
           "takes minutes, not hours. Object *counts* are real; per-object overheads weigh more here than "
           "in a library of real sizes.".format(lib["blobs"]["generated_bytes"] / 1e9, lib["blobs"]["factor"],
                                                lib["blobs"]["bytes"] / MB, _mb(lib["blobs"]["median"]),
                                                _mb(lib["blobs"]["p90"]), _mb(lib["blobs"]["max"])), "",
           "### Goals", "", "| | repo-sync | plain `rsync -a` | ratio | goal | met |", "|---|---:|---:|---:|---|---|"]
    full = m["full"]
    ratio = full["sync"]["seconds"] / full["plain"]["seconds"]
    out.append(f"| (a) first full sync, time | {full['sync']['seconds']:.1f} s | {full['plain']['seconds']:.1f} s | "
               f"{ratio:.2f}× | ≤ {GOAL_FULL_RATIO}× | {_met(ratio <= GOAL_FULL_RATIO)} |")
    stage1 = full["sync"]["trace"].get("stage1_s") or 0
    out.append(f"| (a) informational: its stage 1 alone (fetch, sha256 of every object, adopt, syncfs) | "
               f"{stage1:.1f} s | {full['plain']['seconds']:.1f} s | {stage1 / full['plain']['seconds']:.2f}× | – | – |")
    if "full_tantivy" in m:
        tantivy = m["full_tantivy"]["sync"]["seconds"]
        out.append(f"| (a) informational: the same into a mirror on Tantivy (`REPO_SEARCH_ENGINE=tantivy`) | "
                   f"{tantivy:.1f} s | {full['plain']['seconds']:.1f} s | {tantivy / full['plain']['seconds']:.2f}× "
                   "| – | – |")
    nc = m["nochange"]
    out.append(f"| (b) no change, wall | {nc['seconds']:.2f} s | | | ≤ {GOAL_NOCHANGE_S:g} s | "
               f"{_met(nc['seconds'] <= GOAL_NOCHANGE_S)} |")
    out.append(f"| (b) no change, on the wire | {_mb(nc['wire_bytes'])} | | | ≤ 50 KB | "
               f"{_met(nc['wire_bytes'] <= GOAL_NOCHANGE_BYTES)} |")
    for key, label in (("update", "(c)"), ("bw_update", "(d)")):
        if key not in m:
            continue
        u = m[key]
        base = u["new_object_bytes"] + u["delta_bytes"]
        r = u["sync"]["wire_bytes"] / base
        out.append(f"| {label} {res['share']:.0%} changed, on the wire vs new objects + delta ({_mb(base)}) | "
                   f"{_mb(u['sync']['wire_bytes'])} | {_mb(u['plain']['wire_bytes'])} | {r:.3f}× | "
                   f"≤ {GOAL_UPDATE_RATIO}× | {_met(r <= GOAL_UPDATE_RATIO)} |")
    if "bw_full" in m:
        bwf = m["bw_full"]
        r = bwf["sync"]["seconds"] / bwf["plain"]["seconds"]
        out.append(f"| (d) first full sync at --bwlimit {res['bwlimit']} (20 Mbit/s), time | "
                   f"{bwf['sync']['seconds']:.1f} s | {bwf['plain']['seconds']:.1f} s | {r:.2f}× | "
                   f"≤ {GOAL_FULL_RATIO}× | {_met(r <= GOAL_FULL_RATIO)} |")
    out += ["", "### Every run", "",
            "| run | repo-sync wall | plain wall | repo-sync on the wire | plain on the wire | connections "
            "(sync / plain) | stage 1 (fetch) | catalog | index | stage 2 after stage 1 | load before |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    rows = [("(a) full", full), ("(a) full, Tantivy", m.get("full_tantivy")), ("(c) update", m["update"]), ("(d) full, bwlimit", m.get("bw_full")),
            ("(d) update, bwlimit", m.get("bw_update"))]
    for label, run in rows:
        if not run:
            continue
        s, p = run["sync"], run["plain"]
        out.append(f"| {label} | {s['seconds']:.2f} s | {p['seconds']:.2f} s | {_mb(s['wire_bytes'])} | "
                   f"{_mb(p['wire_bytes'])} | {s['connections']} / {p['connections']} | "
                   f"{s['trace'].get('stage1_s') or 0:.2f} s | {s['trace'].get('apply_s') or 0:.2f} s | "
                   f"{_opt_s(s['trace'].get('index_s'))} | "
                   f"{_opt_s(s['trace'].get('stage2_wait_s')) if s['trace'].get('overlap') else 'after it'} | "
                   f"{s['load_before']:.1f} / {p['load_before']:.1f} |")
    out.append(f"| (b) no change | {nc['seconds']:.2f} s | | {_mb(nc['wire_bytes'])} | | {nc['connections']} | | | | | "
               f"{nc['load_before']:.1f} |")
    out += ["", "A first sync (a, d full) builds its catalog and index *while* stage 1 transfers "
            "(sync/pull/overlap.py): their columns overlap stage 1's, and \"stage 2 after stage 1\" is what "
            "the run still waited for them once the last object was in. Later syncs apply after stage 1."]
    for key in ("update", "bw_update"):
        if key in m:
            u = m[key]
            out += ["", f"{'(c)' if key == 'update' else '(d)'} edits: {u['edited']['metadata']} resources with new "
                    f"metadata, {u['edited']['files']} with a replaced file; the publisher made {u['new_objects']} new "
                    f"objects ({_mb(u['new_object_bytes'])}) and a delta of {_mb(u['delta_bytes'])} (whole manifest "
                    f"{_mb(u['manifest_bytes'])}); repo-sync took the manifest from the "
                    f"{u['sync']['trace'].get('manifest_from')}."]
    out += ["", f"Publishing the library the first time: {lib['publish_s']:.0f} s.", "",
            f"Machine: {res['machine'].get('cpu_model', '?')}, {res['machine'].get('cpu_count', '?')} cores, "
            f"shared with other work: load average {res['loadavg'][0]:.2f} at the start, {res['loadavg_end'][0]:.2f} "
            "at the end (1-minute averages before each run are in the table). rsync "
            f"{res['rsync']}. Disk: {res['machine'].get('disk', {}).get('fstype', '?')} on "
            f"{res['machine'].get('disk', {}).get('device', '?')}.", ""]
    analysis = HERE / "ANALYSIS.md"       # the reading of these numbers, kept by hand
    out += [analysis.read_text(encoding="utf-8").strip()] if analysis.is_file() else []
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    args, doc = _args(argv), ROOT / "docs" / "benchmarks.md"
    if args.render:
        write_section(doc, "sync", render(json.loads(args.render.read_text())))
        return 0
    workdir_info = check_workdir(args.workdir)
    data = args.workdir / f"upstream-{args.size}-{args.total_mb}mb"
    if not (args.keep and matching_library(data, args.size) and (data / "mirror" / "CURRENT").is_file()):
        shutil.rmtree(data, ignore_errors=True)
        print(f"bench: generating a library of {args.size:,} resources in {data}")
        generate(data, args.size)
    blobs = realise(data, args.total_mb * MB)
    up = Upstream(data)
    _cli("init", env=up.env)
    published = up.publish()
    work = args.workdir / "runs"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    tree = _tree_objects(data / "mirror")
    current = up.current()
    rsync_version = subprocess.run(["rsync", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    results = {"command": "python bench/sync/run.py" + (" " + " ".join(argv or sys.argv[1:])).rstrip(),
               "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "code": code_version(),
               "size": args.size, "share": args.share, "bwlimit": args.bwlimit, "quick": False,
               "loadavg": list(os.getloadavg()), "machine": machine_info(CLI, workdir_info),
               "rsync": " ".join(rsync_version.split()[1:3]),
               "library": {"blobs": blobs, "objects": len(tree), "object_bytes": sum(tree.values()),
                           "manifest_bytes": current["size"], "published": published["report"].get("resources", 0),
                           "publish_s": published["seconds"]}}
    _warm([data / "mirror" / "objects"])
    up.start(args.workdir)
    try:
        results["measure"] = measure(args, up, work)
    finally:
        up.stop()
    results["loadavg_end"] = list(os.getloadavg())
    path = save_results("sync", results, stamp)
    print(f"bench: results in {path}")
    if not args.no_doc:
        write_section(doc, "sync", render(results))
    if not args.keep:
        shutil.rmtree(data, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
