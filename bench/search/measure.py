"""The in-process measurements, run by bench/search/run.py with the project's virtualenv:

    .venv/bin/python bench/search/measure.py generate --data DIR --size N --out JSON
    .venv/bin/python bench/search/measure.py build    --data DIR --engine E --out JSON [--profile P]
    .venv/bin/python bench/search/measure.py query    --data DIR --engine E --out JSON [--rounds R] [--profile P]

Each step runs in a fresh process, so its peak RSS (getrusage ru_maxrss) is its own.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

TEACHER = "u3-teacher-0"   # a teacher of 城关区第一中学 (organisation id 3), not an editor


def _peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _services(data: Path, engine: str):
    from repo_server.config import Settings
    from repo_server.services.context import Services

    # Only the data dir and the engine: nothing from the caller's REPO_* environment.
    return Services.open(Settings.from_env({}, data_dir=data, search_engine=engine))


def _profiled(profile: Path | None, fn):
    if profile is None:
        return fn()
    profiler = cProfile.Profile()
    result = profiler.runcall(fn)
    profiler.dump_stats(str(profile))
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(35)
    profile.with_suffix(".txt").write_text(text.getvalue(), encoding="utf-8")
    return result


# -- generate -----------------------------------------------------------------------------------
def cmd_generate(args) -> dict:
    from generate import generate

    info = generate(args.data, args.size, progress=lambda line: print(line, file=sys.stderr, flush=True))
    info["peak_rss_mib"] = _peak_rss_mib()
    return info


# -- build ----------------------------------------------------------------------------------------
def cmd_build(args) -> dict:
    from repo_server.services.indexing import rebuild
    from repo_server.services.search_tools import search_index

    svc = _services(args.data, args.engine)
    samples: list[tuple[int, float]] = []
    last = [0.0]
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        now = time.perf_counter() - started
        samples.append((done, round(now, 2)))
        if now - last[0] > 30 or done == total:
            last[0] = now
            print(f"bench: {args.engine}: indexed {done:,}/{total:,} in {now:.0f} s "
                  f"({done / now:.0f} docs/s)", file=sys.stderr, flush=True)

    cpu0 = time.process_time()
    report = _profiled(args.profile, lambda: rebuild(svc, progress=progress))
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu0
    index = search_index(svc)
    live = index.store.current()
    size = index.store.size_bytes(live)
    files = sum(1 for p in live.rglob("*") if p.is_file())
    status = index.status()
    svc.close()
    # rate over the second half of the run: does it slow down as the index grows?
    half = [s for s in samples if s[0] >= samples[-1][0] / 2] if samples else []
    late_rate = ((half[-1][0] - half[0][0]) / (half[-1][1] - half[0][1])
                 if len(half) > 1 and half[-1][1] > half[0][1] else None)
    return {"engine": args.engine, "documents": report["documents"], "seconds": round(seconds, 1),
            "docs_per_s": round(report["documents"] / seconds, 1),
            "docs_per_s_second_half": round(late_rate, 1) if late_rate else None,
            "cpu_seconds": round(cpu, 1), "index_bytes": size, "index_files": files,
            "indexed_documents": status["documents"], "generation": report["generation"],
            "peak_rss_mib": _peak_rss_mib(), "progress": samples[:: max(len(samples) // 50, 1)]}


# -- query ----------------------------------------------------------------------------------------
def _percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


class _Timed:
    """Wraps the SearchIndex methods the service calls, to split engine time from the rest."""

    def __init__(self, index) -> None:
        self.index, self.seconds, self.calls = index, 0.0, 0
        for name in ("search", "doc_freq", "terms_with_prefix"):
            setattr(index, name, self._wrap(getattr(index, name)))

    def _wrap(self, fn):
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t0
                self.calls += 1
        return timed

    def reset(self) -> None:
        self.seconds, self.calls = 0.0, 0

    def restore(self) -> None:
        for name in ("search", "doc_freq", "terms_with_prefix"):
            delattr(self.index, name)


def cmd_query(args) -> dict:
    from sqlalchemy import select

    from repo_server.catalog.models import User
    from repo_server.indexer import FACET_FIELDS, SearchRequest, build_text_query
    from repo_server.services.actor import Actor
    from repo_server.services.permissions import access_filter
    from repo_server.services.search_tools import search_index, search_tools
    from repo_server.services.searching import SearchParams, _filter_codes, search

    from queries import QUERIES

    svc = _services(args.data, args.engine)
    with svc.catalog.read() as session:
        user = session.scalars(select(User).where(User.username == TEACHER)).one()
        actor = Actor.of(user)
    index = search_index(svc)
    opened = time.perf_counter()
    documents = index.reader().count()
    open_s = time.perf_counter() - opened
    params = [SearchParams(q=q, filters=filters, sort=sort) for _, q, filters, sort in QUERIES]

    # warm-up: every query once (first use loads the analyzer, vocabularies, caches, pages)
    first = time.perf_counter()
    answers = [search(svc, actor, p) for p in params]
    warmup_s = time.perf_counter() - first

    timer = _Timed(index)
    service: list[list[float]] = [[] for _ in QUERIES]
    engine: list[list[float]] = [[] for _ in QUERIES]
    calls: list[int] = [0 for _ in QUERIES]

    def rounds() -> None:
        for _ in range(args.rounds):
            for i, p in enumerate(params):
                timer.reset()
                t0 = time.perf_counter()
                search(svc, actor, p)
                service[i].append(time.perf_counter() - t0)
                engine[i].append(timer.seconds)
                calls[i] = timer.calls

    _profiled(args.profile, rounds)
    timer.restore()

    # engine only: the service's main request (text + permissions + filters + all facets),
    # built exactly as searching.search builds it, timed around SearchIndex.search alone
    tools = search_tools(svc)
    access = access_filter(actor, public_access=svc.settings.public_access)
    requests = []
    for p in params:
        text = build_text_query(tools.analyzer, tools.synonyms, p.q) if p.q else None
        requests.append(SearchRequest(text=text, access=access, filters=_filter_codes(svc, tools, p.filters),
                                      sort=p.sort, offset=0, limit=p.per_page, facets=FACET_FIELDS))
    engine_only: list[list[float]] = [[] for _ in QUERIES]
    for _ in range(args.rounds):
        for i, request in enumerate(requests):
            t0 = time.perf_counter()
            index.search(request)
            engine_only[i].append(time.perf_counter() - t0)
    svc.close()

    def ms(values: list[float]) -> dict:
        return {"p50": round(statistics.median(values) * 1000, 2),
                "p95": round(_percentile(values, 95) * 1000, 2), "max": round(max(values) * 1000, 2)}

    per_query = []
    for i, (kind, q, filters, sort) in enumerate(QUERIES):
        answer = answers[i]
        top = answer["hits"][0]["title"] if answer["hits"] else ""
        per_query.append({
            "kind": kind, "q": q, "filters": {k: list(v) for k, v in filters.items()}, "sort": sort,
            "total": answer["total"], "relaxed": answer["relaxed"], "did_you_mean": answer["did_you_mean"],
            "top_hit": top, "engine_calls": calls[i],
            "service_ms": ms(service[i]), "engine_ms": ms(engine[i]), "engine_only_ms": ms(engine_only[i])})
    pooled = lambda series: ms([v for values in series for v in values])  # noqa: E731
    return {"engine": args.engine, "documents": documents, "rounds": args.rounds, "queries": len(QUERIES),
            "samples": len(QUERIES) * args.rounds, "actor": {"username": actor.username, "role": actor.role,
                                                            "org_path": actor.org_path},
            "open_reader_s": round(open_s, 3), "warmup_s": round(warmup_s, 2),
            "service_ms": pooled(service), "engine_ms": pooled(engine), "engine_only_ms": pooled(engine_only),
            "peak_rss_mib": _peak_rss_mib(), "per_query": per_query}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("generate", "build", "query"))
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--size", type=int)
    parser.add_argument("--engine", choices=("whoosh", "tantivy"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", type=Path)
    args = parser.parse_args()
    os.environ.pop("REPO_SEARCH_ENGINE", None)
    result = {"generate": cmd_generate, "build": cmd_build, "query": cmd_query}[args.command](args)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
