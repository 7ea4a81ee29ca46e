"""Freshness: how long after its upload is a resource found by search, on a running server?

Standard library only (runs in the orchestrator). A real `repo-server serve` (2 gunicorn
workers, background work on, as by default: one worker holds the index writer lock and polls
the change log every 0.25 s) runs on a copy of a generated library with its index already
built. Files are uploaded one at a time through the API; after each 201 the client polls
GET /api/v1/search?q=<the upload's unique title word> until the new id is among the hits.
"""

from __future__ import annotations

import json
import random
import shutil
import statistics
import string
import sys
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BENCH_DIR))

from _servers import RepoServerProcess  # noqa: E402

__all__ = ["run_freshness"]

POLL_S = 0.02          # pause between two searches of the client
TIMEOUT_S = 30.0
WARMUP = 2             # uploads before the measured ones (first use of the writer, caches)


def _multipart(fields: dict[str, str], filename: str, content: bytes, mime: str) -> tuple[bytes, str]:
    boundary = "bench" + uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    quoted = urllib.parse.quote(filename)
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="upload.pdf"; '
                 f"filename*=UTF-8''{quoted}\r\nContent-Type: {mime}\r\n\r\n".encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _request(url: str, token: str, data: bytes | None = None, content_type: str | None = None) -> dict:
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    request.add_header("Authorization", f"Bearer {token}")
    if content_type:
        request.add_header("Content-Type", content_type)
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def _one(server: RepoServerProcess, rng: random.Random, lesson: str) -> dict[str, Any]:
    word = "fz" + "".join(rng.choice(string.ascii_lowercase) for _ in range(8))
    title = f"{lesson} 课件 {word}"
    body, content_type = _multipart({"title": title, "subject": "数学", "grade": "八年级", "type": "课件"},
                                    f"{title}.pdf", f"%PDF-1.4 freshness {word} {uuid.uuid4().hex}\n".encode(),
                                    "application/pdf")
    sent = time.perf_counter()
    created = _request(server.url + "/api/v1/resources", server.token, body, content_type)
    answered = time.perf_counter()
    url = server.url + "/api/v1/search?" + urllib.parse.urlencode({"q": word})
    polls, poll_s = 0, []
    while True:
        start = time.perf_counter()
        hits = _request(url, server.token)["hits"]
        end = time.perf_counter()
        polls += 1
        poll_s.append(end - start)
        if any(hit["id"] == created["id"] for hit in hits):
            break
        if end - answered > TIMEOUT_S:
            raise SystemExit(f"bench: upload {created['id']} not found by search after {TIMEOUT_S:.0f} s")
        time.sleep(POLL_S)
    return {"id": created["id"], "upload_s": round(answered - sent, 4),
            "found_after_answer_s": round(end - answered, 4),        # what a teacher would see
            "found_after_request_s": round(end - sent, 4),
            "last_poll_started_after_answer_s": round(start - answered, 4),
            "polls": polls, "median_poll_s": round(statistics.median(poll_s), 4)}


def run_freshness(ctx: dict[str, Any], library: Path, engine: str, uploads: int) -> dict[str, Any]:
    """Upload `uploads` files to a server running on a copy of `library` (index built)."""
    work: Path = ctx["workdir"] / f"freshness-{engine}"
    shutil.rmtree(work, ignore_errors=True)
    data = work / "data"
    shutil.copytree(library, data, ignore=shutil.ignore_patterns("whoosh" if engine == "tantivy" else "tantivy",
                                                                 "*.lock"))
    server = RepoServerProcess(ctx["repo_server"], data, workers=2, log=work / "server.log")
    server.env["REPO_SEARCH_ENGINE"] = engine
    server.initialise()
    rng = random.Random(7)
    lessons = ["勾股定理", "一元二次方程", "光合作用", "欧姆定律", "背影", "静夜思", "牛顿第一定律", "化学方程式"]
    server.start()
    try:
        for _ in range(WARMUP):
            _one(server, rng, rng.choice(lessons))
        runs = []
        for i in range(uploads):
            time.sleep(rng.uniform(0.1, 0.6))  # uploads arrive at random phases of the 0.25 s poll
            runs.append(_one(server, rng, lessons[i % len(lessons)]))
        memory = server.memory()
    finally:
        server.stop()
    found = sorted(r["found_after_answer_s"] for r in runs)
    pct = lambda p: found[max(1, -(-len(found) * p // 100)) - 1]  # noqa: E731 nearest rank
    result = {"engine": engine, "uploads": uploads, "warmup_uploads": WARMUP, "poll_interval_s": POLL_S,
              "library_documents": ctx.get("library_documents"),
              "p50_s": round(statistics.median(found), 3), "p95_s": round(pct(95), 3), "max_s": round(found[-1], 3),
              "mean_s": round(statistics.fmean(found), 3), "within_2s": sum(1 for f in found if f <= 2.0),
              "median_upload_s": round(statistics.median(r["upload_s"] for r in runs), 3),
              "median_search_request_s": round(statistics.median(r["median_poll_s"] for r in runs), 3),
              "server_max_hwm_mib": round(memory["max_hwm_kB"] / 1024), "runs": runs}
    if not ctx.get("keep"):
        shutil.rmtree(work, ignore_errors=True)
    return result
