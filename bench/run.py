"""Run the repo-server benchmarks and (re)write docs/benchmarks.md.

    python bench/run.py                 # ingest 2 GiB x 3 rounds, download 1 GiB x 5 rounds
    python bench/run.py --size-gb 4     # ingest 4 GiB, download 2 GiB
    python bench/run.py --quick         # 200 MiB files, 1 round: a sanity check in ~1 minute

Only the file-transfer section of docs/benchmarks.md (between <!-- bench:files --> markers) is
rewritten. Results are also saved as JSON in bench/results/ (gitignored). See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (GiB, MiB, REPO_ROOT, check_workdir, code_version, drop_caches,  # noqa: E402
                     find_repo_server, machine_info)
from download import run_download  # noqa: E402
from ingest import run_ingest  # noqa: E402
from report import read_section, render, write_section  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_WORKDIR = Path("/tmp/repo-server-bench")

METHOD = """\
## Method

Both benchmarks start their own servers on free loopback ports and stop them afterwards
(SIGTERM to gunicorn's master, SIGQUIT to nginx's): `repo-server serve --host 127.0.0.1
--port P` with only REPO_DATA_DIR and REPO_WORKERS=2 set (every other setting at its
default: gthread, 16 threads, gunicorn's sendfile on), on a data dir made by `repo-server init`, with
an admin user (`repo-server user add bench --role admin`, password on stdin) and a token
(`repo-server token create bench`). Each server is waited for on /healthz. Timing is
`time.perf_counter()` around the client subprocess (curl, cp, sha256sum, sync), so
process start-up (a few ms) is inside every measurement, on both sides alike. The test
files are random bytes behind a 40-byte MP4 header (`ftyp` + `mdat` boxes), because the
server accepts only content libmagic can place; it sees `video/mp4`. Every test file,
data dir and copy is in the work directory on the disk named under Machine.

**Ingest.** Per round, both sides, alternating which goes first, each preceded by `sync;
echo 3 > /proc/sys/vm/drop_caches` (untimed), so both start with the source file on disk
and not in RAM and with no dirty pages.
- repo-server: a fresh data dir and a fresh server per round (blobs dedup by sha256, and a
  server serves one data dir), started before the clock starts. Timed: `curl -sS
  --fail-with-body -H 'Authorization: Bearer …' -F 'file=@FILE;filename=课堂实录-bench.mp4;type=video/mp4'
  -F 'title=ingest benchmark rN' http://127.0.0.1:P/api/v1/resources`; curl streams the
  file from disk as multipart/form-data with a Content-Length (and `Expect: 100-continue`,
  which gunicorn answers). The clock stops at the 201 answer, i.e. after the server's
  fsync, rename into blobs/ and catalog commit. The answer's sha256 and size are checked
  against the file. A thread polls the staging directory and the processes' VmRSS every
  50 ms: the first gives "until last byte on disk" (the staged file holds all bytes; the
  rest of the time is fsync + rename + commit), the second the highest sum of RSS at one
  instant. After the answer, VmHWM (peak RSS over the process's life, which for a fresh
  server is this upload) of the gunicorn master and each worker is read from
  /proc/PID/status; reported are the largest single process and the sum.
- peer: `cp FILE DEST`, then `sha256sum DEST` (timed separately; the peer's time is the
  sum), its digest checked. Then, untimed for the peer and reported as informational rows:
  `openssl dgst -sha256 -r DEST` ("cp + openssl": Debian's coreutils sha256sum does not
  use the CPU's SHA instructions, OpenSSL does, and so does the server's hashlib), and
  `sync DEST` ("peer + fsync": the server fsyncs every upload before answering, cp does
  not).

**Download.** One server, a fresh data dir, the file uploaded through the API (untimed).
nginx serves the same blob file, `<data dir>/blobs/ab/cd/<sha256>`, with a generated
config in the work directory (`worker_processes 2; sendfile on; tcp_nopush on;
access_log off;`, `daemon off`, pid and logs in the work directory; /etc/nginx untouched).
Both URLs are fetched once untimed and their bytes checked with sha256sum, which also
puts the file in the page cache: the download numbers are warm-cache (RAM → loopback).
Per round, alternating the order: the whole file from each (`curl -sS -o /dev/null
URL`), then a Range from the middle (`-H 'Range: bytes=<size/2>-'`, 206 checked).
repo-server is asked anonymously for `/api/v1/resources/ID/download` (public, published
resource), so its permission check and download counting run as for a teacher.
"""


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-gb", type=float, default=2.0,
                        help="ingest file size in GiB; the download file is half of it (default 2)")
    parser.add_argument("--quick", action="store_true",
                        help="200 MiB files, 1 round each: a fast sanity run")
    parser.add_argument("--rounds", type=int, help="rounds per benchmark (default 3 ingest, 5 download)")
    parser.add_argument("--only", choices=("ingest", "download"), help="run one benchmark")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                        help=f"where test files and data dirs go, on a real disk (default {DEFAULT_WORKDIR})")
    parser.add_argument("--keep", action="store_true", help="keep the test files and data dirs")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument("--render", type=Path, metavar="RESULTS_JSON",
                        help="measure nothing: rewrite docs/benchmarks.md from a saved result "
                             "(e.g. after editing bench/ANALYSIS.md)")
    return parser.parse_args(argv)


def _write_doc(results: dict) -> None:
    doc = REPO_ROOT / "docs" / "benchmarks.md"
    write_section(doc, "files", render(results, METHOD, read_section(BENCH_DIR / "ANALYSIS.md")))
    print(f"bench: wrote the file-transfer section of {doc.relative_to(REPO_ROOT)}", flush=True)


def _clean(workdir: Path) -> None:
    """Remove what the benchmarks create in the work directory (and nothing else)."""
    for pattern in ("ingest-*", "download-*", "nginx"):
        for entry in workdir.glob(pattern):
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
    try:
        workdir.rmdir()  # only if empty: never delete a directory someone else uses
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    if args.render:
        _write_doc(json.loads(args.render.read_text(encoding="utf-8")))
        return 0
    repo_server = find_repo_server()
    workdir_info = check_workdir(args.workdir)
    if args.quick:
        ingest_size = download_size = 200 * MiB
    else:
        ingest_size = int(args.size_gb * GiB)
        download_size = ingest_size // 2
    need = (ingest_size * 3 + download_size * 2) / GiB
    if workdir_info["free_gib"] < need:
        raise SystemExit(f"bench: {args.workdir} has {workdir_info['free_gib']} GiB free, "
                         f"needs about {need:.1f}")
    for log in ("ingest-server.log", "download-server.log"):
        (args.workdir / log).unlink(missing_ok=True)
    can_drop = drop_caches()
    if not can_drop:
        print("bench: cannot drop the page cache (not root?): ingest runs warm", file=sys.stderr)
    ctx = {"workdir": args.workdir, "repo_server": repo_server, "keep": args.keep,
           "drop_caches": can_drop}
    started = datetime.now(timezone.utc)
    results = {
        "command": " ".join(["python bench/run.py",
                             shlex.join(sys.argv[1:] if argv is None else argv)]).strip(),
        "date": started.strftime("%Y-%m-%d %H:%M UTC"), "quick": args.quick,
        "code": code_version(), "machine": machine_info(repo_server, workdir_info),
    }
    print(f"bench: work directory {args.workdir} ({workdir_info['fstype']} on "
          f"{workdir_info['device']}), repo-server {repo_server}", flush=True)
    if args.only in (None, "ingest"):
        results["ingest"] = run_ingest(ctx, ingest_size, args.rounds or (1 if args.quick else 3))
    if args.only in (None, "download"):
        results["download"] = run_download(ctx, download_size,
                                           args.rounds or (1 if args.quick else 5))
    results["duration_s"] = round(time.time() - started.timestamp(), 1)

    out_dir = BENCH_DIR / "results"
    out_dir.mkdir(exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    for name in (f"{stamp}{'-quick' if args.quick else ''}.json", "latest.json"):
        (out_dir / name).write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n",
                                    encoding="utf-8")
    if not args.no_doc:
        _write_doc(results)
    print(f"bench: results in bench/results/{stamp}{'-quick' if args.quick else ''}.json ({results['duration_s']} s)")
    if not args.keep:
        _clean(args.workdir)  # on failure everything stays, logs included, for a look
    return 0


if __name__ == "__main__":
    sys.exit(main())
