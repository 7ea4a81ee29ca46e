"""Render a search benchmark result (bench/results/search-*.json) as the search section of
docs/benchmarks.md (the part between <!-- bench:search --> markers)."""

from __future__ import annotations

from typing import Any

__all__ = ["render", "METHOD"]

METHOD = """\
### Method

**Libraries.** `bench/search/generate.py` makes one library per size, inserted in bulk into a
fresh catalog (SQLite under the work directory, created by `services.maintenance.initialise`,
i.e. `repo-server init`: migrations and the seeded vocabularies), and both engines index the
same one. Per resource: a title from 1,172 real lesson names (`bench/search/lessons.py`:
统编版 语文/道德与法治/历史, 人教版 数学/物理/化学/生物学/地理, 人教A版 高中数学, PEP and Go for it!
英语, 教科版 科学 …) combined with the resource type or one of its aliases in a dozen title
patterns teachers use (“人教版数学八年级下册《勾股定理》课件”, “勾股定理（第2课时）导学案”,
“2024年江北区优质课评比 背影 课堂实录” …); classification ids consistent with each other and
with the lesson (grade → 学段, an edition that publishes that subject in that stage, 上册/下册 or
必修/选择性必修 volumes), with 4 % missing the volume and some missing the edition; subjects
and types weighted like a district library (语文 and 数学 20 % each, 课件 30 %, 教案 20 % …);
a format following the type; 0–4 tags; a description for 75 %; a city → 8 counties → 240
schools tree, items owned 65 / 25 / 10 % by schools, county offices and the city;
visibility 86 % public, 7 % organisation, 3 % private, 4 % drafts; 1 % deleted
(tombstones); creation dates over five years; heavy-tailed download counts; one blob row
per resource (fake sha256, 2 % of resources share a blob with another) with a `blob_texts`
row of ~2 KB UTF-8 extracted text (1.4–2.7 KB, ~700 characters) built from sentence
templates per kind of material (lesson plan, slides, exercises, lecture transcript, material
notes) around the lesson and ~30 domain words of its subject, with school and teacher
names and page/exercise numbers; one `create` change per resource, `update` for 10 %,
`delete` for the tombstones. Every resource has text, as the issue asks; in a real library
videos and images have none, so real indexing is a little cheaper. Template text has a
smaller vocabulary than real documents, so real indexes are somewhat larger and common
words somewhat rarer.

**Index build.** One fresh process per engine and size runs `services.indexing.rebuild(svc)`,
the real path (catalog rows read in id order, 1,000 per batch, as plain columns → analysis
(rjieba, pinyin, t2s) in one worker process per core → the engine, one commit at the end →
catch up → publish), with `REPO_SEARCH_ENGINE` set to the engine. Reported: documents / wall time, the rate over the second half of the run (an
index that slows down as it grows shows here), the size of the generation directory on disk,
and the process's peak RSS (`getrusage` ru_maxrss). A Whoosh build above 100,000 items is
run only when the rate measured at the largest smaller size predicts ≤ 90 minutes.

**Queries.** A fixed mix of 41 requests (`bench/search/queries.py`): whole and partial lesson
titles, title + type, two-word queries, classification words typed in the box (八年级 数学
人教版), pinyin and initials (gougu, ggdl), traditional characters, vocabulary aliases (部编版,
初一, 生物, 思想品德, PEP), broad one-word queries (数学, 课件), a homophone typo (勾古定理: strict
search finds nothing, the relaxed search and did-you-mean run), words plus filters and
sorting, and browsing with filters and no words. All go through
`services.searching.search(svc, actor, SearchParams)` for a teacher of one school (role
teacher, not admin: the permission filter runs inside the engine), which always computes all
eight facets (disjunctive: one more engine search per active filter), loads the 20 hits from
the catalog and builds snippets. One fresh process per engine and size opens the index,
runs the mix once (warm-up), then N timed rounds. **service** = wall time of `search()`;
**engine (in service)** = the time of the same calls spent inside `SearchIndex.search` /
`doc_freq` / `terms_with_prefix` (the index object's methods wrapped with timers);
**engine only** = the service's main request (text + permissions + filters + all facets),
built exactly as `search()` builds it, timed around `SearchIndex.search` alone, N rounds.
Percentiles are nearest-rank over all queries × rounds pooled.

**Freshness.** A real `repo-server serve` (2 gunicorn workers, defaults otherwise:
background work on, one worker holds the index writer lock and polls the change log every
0.25 s) on a copy of the smallest library with its index already built. Two warm-up
uploads, then N uploads one at a time through `POST /api/v1/resources` (a small PDF, a title
carrying a unique word), each at a random moment; after the 201 the client polls
`GET /api/v1/search?q=<that word>` (bearer token, every 20 ms plus the request's own time)
until the new id is among the hits. Reported: time from the 201 answer to the end of the
first search that finds it.
"""


def _n(value: float | int | None, fmt: str = "{:,.0f}") -> str:
    return "–" if value is None else fmt.format(value)


def _mb(n: int) -> str:
    return f"{n / 1e6:,.0f} MB" if n >= 10e6 else f"{n / 1e6:,.1f} MB"


def _met(ok: bool | None) -> str:
    return "–" if ok is None else ("yes" if ok else "**NO**")


def _size(n: int | str) -> str:
    n = int(n)
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else \
        f"{n // 1000}k" if n % 1000 == 0 else f"{n:,}"


def _filters(q: dict) -> str:
    parts = [f"{k}={'/'.join(v)}" for k, v in q["filters"].items()]
    if q["sort"] != "relevance":
        parts.append(f"sort={q['sort']}")
    return ", ".join(parts)


def _goals(res: dict, goals: dict) -> list[str]:
    lines = ["| Goal | measured | goal | met |", "|---|---:|---:|---|"]
    for engine in ("tantivy", "whoosh"):
        g = goals[engine]
        at = res["sizes"].get(str(g["at_size"]), {}).get("engines", {}).get(engine)
        label = f"{engine.capitalize()} at {_size(g['at_size'])}"
        if not at or at.get("skipped") or "build" not in at:
            lines.append(f"| {label}: indexing rate | not measured | ≥ {g['docs_per_s_min']:,} docs/s | – |")
            lines.append(f"| {label}: query p95 (service) | not measured | ≤ {g['p95_ms_max']} ms | – |")
            continue
        rate, p95 = at["build"]["docs_per_s"], at["query"]["service_ms"]["p95"]
        lines.append(f"| {label}: indexing rate (`rebuild`) | {rate:,.0f} docs/s | ≥ {g['docs_per_s_min']:,} docs/s "
                     f"| {_met(rate >= g['docs_per_s_min'])} |")
        lines.append(f"| {label}: query p95, service (`searching.search`) | {p95:,.1f} ms | ≤ {g['p95_ms_max']} ms "
                     f"| {_met(p95 <= g['p95_ms_max'])} |")
        eng = at["query"]["engine_only_ms"]["p95"]
        lines.append(f"| {label}: query p95, engine only (`SearchIndex.search`), informational | {eng:,.1f} ms "
                     f"| ({g['p95_ms_max']} ms) | {'(' + ('within' if eng <= g['p95_ms_max'] else 'over') + ')'} |")
    for engine, f in res.get("freshness", {}).items():
        lines.append(f"| {engine.capitalize()}: searchable after upload, p95 of {f['uploads']} "
                     f"({_size(f['library_size'])} library) | {f['p95_s']:.2f} s | ≤ {goals['freshness_s_max']:g} s "
                     f"| {_met(f['p95_s'] <= goals['freshness_s_max'])} |")
    return lines


def _side_by_side(res: dict) -> list[str]:
    lines = ["| library | engine | build time | docs/s | docs/s, 2nd half | index on disk | build peak RSS "
             "| service p50 / p95 / max | engine in service p50 / p95 | engine only p50 / p95 | query process RSS |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for size, entry in sorted(res["sizes"].items(), key=lambda item: int(item[0])):
        for engine, run in entry["engines"].items():
            if run.get("skipped"):
                est = run.get("estimated_build_s")
                why = (f"not run: {run['reason']}; estimated {est / 3600:.1f} h to build from the rate measured "
                       f"at the next smaller size") if est else f"not run: {run['reason']}"
                lines.append(f"| {_size(size)} | {engine} | {why} | | | | | | | | |")
                continue
            b, q = run["build"], run.get("query")
            cells = [f"{b['seconds']:,.0f} s", f"{b['docs_per_s']:,.0f}", _n(b.get("docs_per_s_second_half")),
                     _mb(b["index_bytes"]), f"{b['peak_rss_mib']:,.0f} MiB"]
            if q:
                s, e, o = q["service_ms"], q["engine_ms"], q["engine_only_ms"]
                cells += [f"{s['p50']:,.1f} / **{s['p95']:,.1f}** / {s['max']:,.0f} ms",
                          f"{e['p50']:,.1f} / {e['p95']:,.1f} ms", f"{o['p50']:,.1f} / {o['p95']:,.1f} ms",
                          f"{q['peak_rss_mib']:,.0f} MiB"]
            else:
                cells += ["–"] * 4
            lines.append(f"| {_size(size)} ({b['documents']:,} indexed) | {engine} | " + " | ".join(cells) + " |")
    return lines


def _libraries(res: dict) -> list[str]:
    lines = ["| library | resources (live + deleted) | blobs with text | mean text | changes | catalog file "
             "| generated in | public / organisation / private / draft |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    for size, entry in sorted(res["sizes"].items(), key=lambda item: int(item[0])):
        info = entry["library"]
        c = info["counts"]
        v = c["visibility"]
        mix = " / ".join(f"{v.get(k, 0) / c['resources'] * 100:.1f} %" for k in
                         ("public/published", "organisation/published", "private/published", "public/draft"))
        when = f"{info['seconds']:,.0f} s" + (" (reused from an earlier run)" if info.get("reused") else "")
        lines.append(f"| {_size(size)} | {c['resources']:,} ({c['deleted']:,} deleted) | {c['texts']:,} "
                     f"| {info['mean_text_bytes']:,} B | {c['changes']:,} | {_mb(info['catalog_bytes'])} | {when} "
                     f"| {mix} |")
    return lines


def _per_query(entry: dict) -> list[str]:
    engines = [e for e, run in entry["engines"].items() if run.get("query")]
    if not engines:
        return []
    head = " | ".join(f"{e} service p50 / p95 | {e} engine only p50" for e in engines)
    lines = [f"| # | kind | q | filters, sort | hits | {head} | first hit ({engines[-1]}) |",
             "|---:|---|---|---|---:|" + "---:|---:|" * len(engines) + "---|"]
    rows = {e: entry["engines"][e]["query"]["per_query"] for e in engines}
    for i, q in enumerate(rows[engines[-1]]):
        hits = {rows[e][i]["total"] for e in engines}
        hit_text = f"{q['total']:,}" if len(hits) == 1 else " / ".join(f"{rows[e][i]['total']:,}" for e in engines)
        if q["relaxed"]:
            hit_text += " (relaxed)"
        cells = " | ".join(f"{rows[e][i]['service_ms']['p50']:,.1f} / {rows[e][i]['service_ms']['p95']:,.1f} | "
                           f"{rows[e][i]['engine_only_ms']['p50']:,.1f}" for e in engines)
        top = q["top_hit"][:28] + ("…" if len(q["top_hit"]) > 28 else "")
        if q.get("did_you_mean"):
            top += f" (did you mean: {q['did_you_mean']})"
        lines.append(f"| {i + 1} | {q['kind']} | {q['q'] or '(none)'} | {_filters(q)} | {hit_text} | {cells} "
                     f"| {top.replace('|', '/')} |")
    return lines


def _slowest(entry: dict, size: str, n: int = 5) -> list[str]:
    lines = []
    for engine, run in entry["engines"].items():
        if not run.get("query"):
            continue
        ranked = sorted(run["query"]["per_query"], key=lambda q: -q["service_ms"]["p95"])[:n]
        desc = "; ".join(f"{q['q'] or '(browse)'}{' [' + _filters(q) + ']' if _filters(q) else ''} "
                         f"{q['service_ms']['p95']:,.0f} ms ({q['engine_calls']} engine calls, "
                         f"{q['engine_ms']['p95']:,.0f} ms in the engine)" for q in ranked)
        lines.append(f"- {engine}, {_size(size)}: {desc}")
    return lines


def _freshness(res: dict, goals: dict) -> list[str]:
    fresh = res.get("freshness") or {}
    if not fresh:
        return []
    lines = ["| engine | library | uploads | p50 | p95 | max | within 2 s | median upload (201) | "
             "median search request | server peak RSS (largest process) | goal p95 ≤ 2 s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for engine, f in fresh.items():
        lines.append(f"| {engine} | {_size(f['library_size'])} | {f['uploads']} | {f['p50_s']:.2f} s | {f['p95_s']:.2f} s "
                     f"| {f['max_s']:.2f} s | {f['within_2s']}/{f['uploads']} | {f['median_upload_s'] * 1000:.0f} ms "
                     f"| {f['median_search_request_s'] * 1000:.0f} ms | {f['server_max_hwm_mib']} MiB "
                     f"| {_met(f['p95_s'] <= goals['freshness_s_max'])} |")
    return lines


def _machine(m: dict) -> list[str]:
    d, v = m["disk"], m["versions"]
    return [f"- CPU: {m['cpu_model']}, {m['cpu_count']} cores; RAM {m['memory_gib']} GiB; kernel {m['kernel']}",
            f"- Disk: work directory `{d['path']}` on {d['device']} ({d['fstype']}, rotational={d['rotational']})",
            f"- Python {v['python']}; tantivy {v['tantivy']}, whoosh3 {v['whoosh3']}, rjieba {v['rjieba']}, "
            f"OpenCC {v['OpenCC']}, pypinyin {v['pypinyin']}, SQLAlchemy {v['SQLAlchemy']}, gunicorn {v['gunicorn']}"]


def render(res: dict[str, Any], goals: dict, analysis: str) -> str:
    quick = " — **quick sanity run (2,000 resources): not representative**" if res["quick"] else ""
    partial = " — **incomplete run**" if res.get("partial") else ""
    out = ["## Search", "",
           f"Generated by `{res['command']}` on {res['date']}{quick}{partial}, code at {res.get('code', '?')}, "
           f"in {res.get('duration_s', 0) / 60:,.0f} min. Rerun that command to refresh this section (only this "
           "section of the page is rewritten; the analysis comes from bench/search/ANALYSIS.md). Raw numbers: "
           "bench/results/search-*.json (not in git). Latencies in milliseconds; sizes in 10^6 bytes.", "",
           "### Goals", "", *_goals(res, goals), "",
           "### Both engines side by side", "",
           f"Query latency over {QUERY_COUNT(res)} "
           f"requests × {res['rounds']} rounds after one warm-up round, as a teacher (permission filter on), "
           "all facets computed.", "", *_side_by_side(res), "",
           "### Libraries", "", *_libraries(res), ""]
    out += ["### Slowest queries (service p95)", ""]
    for size, entry in sorted(res["sizes"].items(), key=lambda item: int(item[0])):
        out += _slowest(entry, size)
    out.append("")
    for size, entry in sorted(res["sizes"].items(), key=lambda item: int(item[0])):
        table = _per_query(entry)
        if table:
            out += [f"### Per query, {_size(size)} library (ms)", "", *table, ""]
    if res.get("freshness"):
        out += ["### Freshness: upload → found by search", "", *_freshness(res, goals), ""]
    out += ["### Machine", "", *_machine(res["machine"]), "", METHOD.strip(), ""]
    if analysis.strip():
        out += [analysis.strip(), ""]
    return "\n".join(out)


def QUERY_COUNT(res: dict) -> int:  # noqa: N802
    for entry in res["sizes"].values():
        for run in entry["engines"].values():
            if run.get("query"):
                return run["query"]["queries"]
    return 0
