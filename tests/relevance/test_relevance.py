"""Relevance on a judged query set: nDCG@10 and must-find recall, for both engines.

The library and judgments are in judged.py; queries are written the way teachers type
(lesson titles, partial titles, subject + grade + edition, pinyin, initials, traditional
characters, aliases). The bar is 0.9 for both numbers on both engines.
"""

from __future__ import annotations

import math
import shutil

import pytest

from repo_server.config import Settings
from repo_server.indexer.engine import ENGINES
from repo_server.services import ANONYMOUS, Services, accounts
from repo_server.services.indexing import catch_up
from repo_server.services.resources import ingest
from repo_server.services.search_tools import search_index
from repo_server.services.searching import SearchParams, search

from .conftest import SCORES
from .judged import LIBRARY, QUERIES

BAR = 0.9


@pytest.fixture(scope="module", params=ENGINES)
def judged_library(request, sqlite_template, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp(f"relevance-{request.param}")
    shutil.copy(sqlite_template, data_dir / "catalog.sqlite3")
    svc = Services.open(Settings(data_dir=data_dir, secret_key="x", search_engine=request.param))
    editor = accounts.add_user(svc, "editor", "editor")
    ids = {}
    for key, (title, meta) in LIBRARY.items():
        staged = svc.staging.new()
        staged.write(f"%PDF-1.4 {key}".encode())
        staged.seek(0)
        ids[key] = ingest(svc, editor, staged, f"{title}.pdf", {**meta, "title": title})["id"]
    writer = search_index(svc).try_writer()
    catch_up(svc, writer)
    writer.close()
    yield request.param, svc, {v: k for k, v in ids.items()}
    svc.close()


def ndcg_at_10(ranked: list[str], grades: dict[str, int]) -> float:
    gain = lambda grade: 2 ** grade - 1  # noqa: E731
    dcg = sum(gain(grades.get(key, 0)) / math.log2(i + 2) for i, key in enumerate(ranked[:10]))
    ideal = sorted(grades.values(), reverse=True)[:10]
    idcg = sum(gain(g) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 1.0


def test_judged_queries(judged_library) -> None:
    engine, svc, key_of = judged_library
    scores, found_musts, total_musts, misses = [], 0, 0, []
    for query, grades, must in QUERIES:
        answer = search(svc, ANONYMOUS, SearchParams(q=query, per_page=10))
        ranked = [key_of[hit["id"]] for hit in answer["hits"]]
        scores.append(ndcg_at_10(ranked, grades))
        total_musts += len(must)
        found_musts += len(must & set(ranked))
        if not must <= set(ranked) or scores[-1] < 0.7:
            misses.append(f"{query!r}: got {ranked[:5]}, nDCG {scores[-1]:.2f}")
    ndcg, recall = sum(scores) / len(scores), found_musts / total_musts
    SCORES.append((engine, ndcg, recall, misses))
    assert ndcg >= BAR and recall >= BAR, (ndcg, recall, misses)
