"""Render one results dict (as saved in bench/results/*.json) as the file-transfer section of
docs/benchmarks.md, and write a benchmark's section of that page (`write_section`)."""

from __future__ import annotations

from pathlib import Path
from statistics import median
from typing import Any

from _common import GiB, MiB

__all__ = ["render", "write_section"]

PAGE_HEAD = """\
# Benchmarks

Each benchmark owns one section of this page, between its `<!-- bench:NAME -->` markers, and
rewrites only that section when it runs: file transfer (`python bench/run.py`) and search
(`python bench/search/run.py`).

"""


def _met(ok: bool) -> str:
    return "yes" if ok else "**NO**"


def _size(n: int) -> str:
    return f"{n / GiB:g} GiB" if n >= GiB else f"{n / MiB:g} MiB"


def _rounds(n: int) -> str:
    return f"{n} round" + ("" if n == 1 else "s")


def _opt(value: float | None, fmt: str = "{:.2f}") -> str:
    return fmt.format(value) if value is not None else "–"


def _summary(res: dict[str, Any]) -> list[str]:
    lines = ["| Benchmark | repo-server | peer | ratio | goal | met |",
             "|---|---:|---:|---:|---|---|"]
    ing = res.get("ingest")
    if ing:
        med, goal = ing["median_mb_s"], ing["goals"]
        lines += [
            f"| Ingest {_size(ing['size_bytes'])}: API upload vs `cp` + `sha256sum` | "
            f"{med['repo_server']:.0f} MB/s | {med['peer']:.0f} MB/s | {ing['ratio']:.2f}× | "
            f"≥ {goal['ratio_min']}× | {_met(ing['ratio'] >= goal['ratio_min'])} |",
            f"| Ingest, peer also fsyncs the copy (`… && sync DEST`), informational | "
            f"{med['repo_server']:.0f} MB/s | {med['peer_with_fsync']:.0f} MB/s | "
            f"{ing['ratio_vs_peer_with_fsync']:.2f}× | – | – |",
            f"| Ingest, peer hashes with `openssl dgst -sha256` instead, informational | "
            f"{med['repo_server']:.0f} MB/s | {med['peer_openssl']:.0f} MB/s | "
            f"{ing['ratio_vs_peer_openssl']:.2f}× | – | – |",
            f"| Ingest peak RSS, largest single process (VmHWM) | "
            f"{ing['peak_rss_max_process_MiB']:.0f} MiB | | | ≤ {goal['peak_rss_max_MiB']} MiB | "
            f"{_met(ing['peak_rss_max_process_MiB'] <= goal['peak_rss_max_MiB'])} |",
            f"| Ingest peak RSS, master + workers summed (VmHWM) | "
            f"{ing['peak_rss_sum_MiB']:.0f} MiB | | | (see text) | – |",
        ]
    dl = res.get("download")
    if dl:
        med, goal = dl["median_mb_s"], dl["goals"]["ratio_min"]
        lines += [
            f"| Download {_size(dl['size_bytes'])} whole file vs nginx | "
            f"{med['repo-server']['full']:.0f} MB/s | {med['nginx']['full']:.0f} MB/s | "
            f"{dl['ratio_full']:.2f}× | ≥ {goal}× | {_met(dl['ratio_full'] >= goal)} |",
            f"| Download Range `bytes={dl['range_start']}-` vs nginx | "
            f"{med['repo-server']['range']:.0f} MB/s | {med['nginx']['range']:.0f} MB/s | "
            f"{dl['ratio_range']:.2f}× | ≥ {goal}× | {_met(dl['ratio_range'] >= goal)} |",
        ]
    return lines


def _ingest_detail(ing: dict[str, Any]) -> list[str]:
    lines = ["| round | repo-server s | MB/s | until last byte on disk s | fsync+commit s | "
             "peer `cp` s | `sha256sum` s | peer MB/s | `sync DEST` s | peer+fsync MB/s | "
             "`openssl dgst` s | cp+openssl MB/s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n, (r, p) in enumerate(zip(ing["repo_server"], ing["peer"], strict=True), 1):
        lines.append(
            f"| {n} | {r['seconds']:.2f} | {r['mb_s']:.0f} | {_opt(r['receive_seconds'])} | "
            f"{_opt(r['finish_seconds'])} | {p['cp_seconds']:.2f} | {p['sha256sum_seconds']:.2f} | "
            f"{p['mb_s']:.0f} | {p['sync_seconds']:.2f} | {p['with_fsync_mb_s']:.0f} | "
            f"{p['openssl_seconds']:.2f} | {p['openssl_mb_s']:.0f} |")
    worst = max(ing["repo_server"], key=lambda r: r["memory_after"]["max_hwm_kB"])
    lines += ["", "Memory of the round with the highest peak (kB of /proc/<pid>/status, "
              "Pss from smaps_rollup), before the upload (server idle after /healthz) and "
              "right after the 201 answer:", "",
              "| process | VmHWM before | VmHWM after | VmRSS after | Pss after |",
              "|---|---:|---:|---:|---:|"]
    before = worst["memory_before"]["processes"]
    for name, mem in worst["memory_after"]["processes"].items():
        old = before.get(name, {})
        lines.append(f"| {name} | {old.get('VmHWM_kB', '–')} | {mem.get('VmHWM_kB')} | "
                     f"{mem.get('VmRSS_kB')} | {mem.get('Pss_kB', '–')} |")
    lines += ["", f"Sum of Pss after the upload: {worst['memory_after']['sum_pss_kB'] / 1024:.0f} MiB; "
              f"highest sum of VmRSS seen at one instant during the upload (sampled every 50 ms): "
              f"{worst['peak_sum_rss_kB_sampled'] / 1024:.0f} MiB."]
    return lines


def _download_detail(dl: dict[str, Any]) -> list[str]:
    names = list(dl["runs"])
    head = " | ".join(f"{n} {k} MB/s" for k in ("full", "range") for n in names)
    lines = [f"| round | {head} |", "|---|" + "---:|" * (2 * len(names))]
    for i in range(dl["rounds"]):
        cells = " | ".join(f"{dl['runs'][n][k][i]['mb_s']:.0f}"
                           for k in ("full", "range") for n in names)
        lines.append(f"| {i + 1} | {cells} |")
    cpu = dl.get("server_cpu_s_per_gib")
    if cpu:
        lines += ["", "Server CPU time (user + system, all processes of the server, from "
                  "/proc/PID/stat) per GiB sent, over all rounds:", "",
                  "| server | whole file | Range |", "|---|---:|---:|"]
        lines += [f"| {n} | {c['full']:.3f} s | {c['range']:.3f} s |" for n, c in cpu.items()]
        ttfb = {n: median(r["time_to_first_byte"] for r in dl["runs"][n]["full"]) for n in names}
        lines += ["", "Median time to first byte (curl `time_starttransfer`), whole file: " +
                  ", ".join(f"{n} {t * 1000:.1f} ms" for n, t in ttfb.items()) + "."]
    mem = dl["server_memory_after"]
    lines += ["", f"repo-server memory after all downloads: largest VmHWM "
              f"{mem['max_hwm_kB'] / 1024:.0f} MiB, sum {mem['sum_hwm_kB'] / 1024:.0f} MiB."]
    return lines


def _machine(m: dict[str, Any]) -> list[str]:
    d = m["disk"]
    return [
        f"- CPU: {m['cpu_model']}, {m['cpu_count']} cores (hypervisor: {m['hypervisor']}); "
        f"RAM {m['memory_gib']} GiB",
        f"- OS: {m['os']}, kernel {m['kernel']}",
        f"- Disk: work directory `{d['path']}` on {d['device']} ({d['fstype']}, mounted at "
        f"{d['mountpoint']}, rotational={d['rotational']}): a real disk, not tmpfs; the "
        "test files, the data dirs and the peer's copies all live there",
        f"- Python {m['python']}, gunicorn {m['gunicorn']} (gthread), werkzeug {m['werkzeug']}, "
        f"flask {m['flask']}",
        f"- nginx {m['nginx']} (Debian), {m['curl']}, {m['coreutils']}, {m.get('openssl', '?')}",
    ]


def render(res: dict[str, Any], method: str, analysis: str) -> str:
    quick = " — **quick sanity run, small files, 1 round: not representative**" \
        if res["quick"] else ""
    out = [f"Generated by `{res['command']}` on {res['date']}{quick}, code at "
           f"{res.get('code', '?')}. Rerun that command to "
           "refresh this section (only this section of the page is rewritten; the analysis comes from "
           "bench/ANALYSIS.md). Raw numbers: bench/results/ (not in git).", "",
           "MB/s means 10^6 bytes per second; file sizes are binary (1 GiB = 1024^3 bytes). "
           "Throughput is the median over rounds of size / wall time of the client process.",
           "", "## Results", "", *_summary(res), ""]
    if res.get("ingest"):
        ing = res["ingest"]
        out += [f"### Ingest ({_size(ing['size_bytes'])}, {_rounds(ing['rounds'])}, cache "
                f"{ing['cache']})", "", *_ingest_detail(ing), ""]
    if res.get("download"):
        dl = res["download"]
        out += [f"### Download ({_size(dl['size_bytes'])}, {_rounds(dl['rounds'])}, {dl['cache']})",
                "", *_download_detail(dl), ""]
    out += ["## Machine", "", *_machine(res["machine"]), "", method.strip(), "",
            analysis.strip(), ""]
    return "\n".join(out)


def read_section(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def write_section(doc: Path, name: str, body: str) -> None:
    """Replace the `<!-- bench:NAME -->` … `<!-- /bench:NAME -->` section of `doc` with `body`,
    leaving every other section as it is (appended at the end when the page has none yet). A
    page written before sections existed is all file-transfer benchmark: it becomes that section."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{body.strip()}\n{end}"
    text = doc.read_text(encoding="utf-8") if doc.is_file() else ""
    if text.strip() and "<!-- bench:" not in text:
        legacy = text.split("\n", 1)[1] if text.startswith("# Benchmarks\n") else text
        text = f"{PAGE_HEAD}<!-- bench:files -->\n{legacy.strip()}\n<!-- /bench:files -->\n"
    if not text.strip():
        text = PAGE_HEAD
    if start in text and end in text.split(start, 1)[1]:
        before, rest = text.split(start, 1)
        text = before + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    doc.write_text(text, encoding="utf-8")
