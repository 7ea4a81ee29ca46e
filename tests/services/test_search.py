"""Search through the services: catalog → change log → index → permission-filtered answers."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from repo_server.ingest.extract import Extraction
from repo_server.services import ANONYMOUS
from repo_server.services.background import BackgroundWork
from repo_server.services.downloads import download_target, record_download
from repo_server.services.indexing import catch_up, index_status, rebuild, refresh_downloads
from repo_server.services.resources import delete_resource, ingest, update_resource
from repo_server.services.search_tools import search_index
from repo_server.services.searching import InvalidQuery, SearchParams, search
from repo_server.services.texts import pending_texts, store_text

BROWSER = "Mozilla/5.0 (Windows NT 10.0) Chrome/120"


@pytest.fixture
def reindex(services):
    def run() -> int:
        writer = search_index(services).try_writer()
        try:
            return catch_up(services, writer)
        finally:
            writer.close()
    return run


@pytest.fixture
def library(services, world, stage, reindex) -> dict[str, str]:
    editor, ids = world.school_editor, {}
    items = [
        ("pyth", b"%PDF-1.4 pyth", "勾股定理 课件.pdf", {"grade": "初二", "subject": "数学", "edition": "人教版", "type": "课件", "tags": ["几何"]}),
        ("proof", b"%PDF-1.4 proof", "勾股定理的证明.pdf", {"grade": "八年级", "subject": "数学", "edition": "人教版", "type": "教案", "description": "部编版配套 勾股定理证明"}),
        ("autumn", b"%PDF-1.4 autumn", "秋天.pdf", {"grade": "一年级", "subject": "语文", "edition": "统编版", "type": "课件"}),
        ("physics", b"%PDF-1.4 physics", "牛顿第一定律.pdf", {"grade": "八年级", "subject": "物理", "type": "微课"}),
        ("private", b"%PDF-1.4 private", "勾股定理 一小内部.pdf", {"subject": "数学", "visibility": "private"}),
        ("orgonly", b"%PDF-1.4 orgonly", "勾股定理 一小校本.pdf", {"subject": "数学", "visibility": "organisation"}),
    ]
    for key, data, name, meta in items:
        ids[key] = ingest(services, editor, stage(data), name, meta)["id"]
    reindex()
    return ids


def found(services, actor, **params) -> dict:
    return search(services, actor, SearchParams(**params))


def ids_of(answer: dict) -> set[str]:
    return {hit["id"] for hit in answer["hits"]}


def test_teachers_see_their_school_not_others_not_even_in_counts(services, world, library) -> None:
    mine = found(services, world.teacher, q="勾股定理")
    theirs = found(services, world.other_teacher, q="勾股定理")
    assert ids_of(mine) == {library["pyth"], library["proof"], library["orgonly"]}
    assert ids_of(theirs) == {library["pyth"], library["proof"]}
    assert theirs["total"] == 2 and sum(theirs["facets"]["subject"].values()) == 2
    assert ids_of(found(services, ANONYMOUS, q="内部")) == set()
    assert library["private"] in ids_of(found(services, world.school_editor, q="勾股定理"))


def test_answer_shape_snippets_and_highlighting(services, world, library) -> None:
    answer = found(services, world.teacher, q="勾股定理 证明")
    hit = next(h for h in answer["hits"] if h["id"] == library["proof"])
    assert hit["title_html"] == "<mark>勾股定理</mark>的<mark>证明</mark>"
    assert "<mark>" in hit["snippet"] and hit["subject"]["name"] == "数学"
    assert (answer["total"], answer["page"], answer["per_page"]) == (1, 1, 20)


def test_filters_by_names_and_aliases_with_disjunctive_facets(services, world, library) -> None:
    answer = found(services, world.teacher, filters={"grade": ("初二",)})   # alias of 八年级
    assert ids_of(answer) == {library["pyth"], library["proof"], library["physics"]}
    assert answer["facets"]["grade"] == {"一年级": 1, "八年级": 3}       # own filter ignored, vocab order
    assert answer["facets"]["subject"] == {"数学": 2, "物理": 1}
    both = found(services, world.teacher, filters={"subject": ("数学", "物理"), "type": ("微课",)})
    assert ids_of(both) == {library["physics"]}
    assert found(services, world.teacher, filters={"format": ("文档",)})["total"] == 5  # orgonly too


def test_synonyms_pinyin_and_relaxed_queries(services, world, library) -> None:
    assert library["proof"] in ids_of(found(services, world.teacher, q="统编版"))  # 部编版 in text
    assert ids_of(found(services, world.teacher, q="ggdl")) >= {library["pyth"], library["proof"]}
    relaxed = found(services, world.teacher, q="秋天 牛顿第一定律")
    assert relaxed["relaxed"] and ids_of(relaxed) == {library["autumn"], library["physics"]}


def test_did_you_mean_corrects_homophones(services, world, library) -> None:
    answer = found(services, world.teacher, q="勾古定理")
    assert answer["relaxed"] and answer["did_you_mean"] == "勾股定理"
    assert found(services, world.teacher, q="勾古定理 课件")["did_you_mean"] == "勾股定理 课件"


def test_did_you_mean_never_reveals_hidden_words(services, world, stage, reindex) -> None:
    ingest(services, world.school_editor, stage(b"%PDF-1.4 s"), "锐角三角函数秘籍.pdf",
           {"visibility": "private"})
    reindex()
    assert found(services, world.other_teacher, q="瑞角三角函数")["did_you_mean"] is None
    assert found(services, world.school_editor, q="瑞角三角函数")["did_you_mean"] == "锐角三角函数"


@pytest.mark.parametrize("q", ["", "   ", '"勾股定理', "勾股 AND OR", "*", "勾股*", "😀😀", "\x00\x07勾股",
                               "((()))", "title:勾股", "-勾股", "勾股定理" * 25])
def test_odd_queries_get_sensible_answers(services, world, library, q) -> None:
    answer = found(services, world.teacher, q=q)
    assert answer["total"] >= 0 and isinstance(answer["hits"], list)


@pytest.mark.parametrize(("params", "field"), [
    ({"q": "勾" * 10_000}, "q"),
    ({"filters": {"subject": ("数字",)}}, "subject"),
    ({"filters": {"colour": ("红",)}}, "colour"),
    ({"page": 0}, "page"),
    ({"page": 501, "per_page": 20}, "page"),
    ({"per_page": 1000}, "per_page"),
    ({"sort": "random"}, "sort"),
])
def test_bad_requests_are_invalid_queries(services, world, library, params, field) -> None:
    with pytest.raises(InvalidQuery) as caught:
        found(services, world.teacher, **params)
    assert caught.value.field == field and caught.value.message


def test_page_beyond_the_end_is_empty(services, world, library) -> None:
    answer = found(services, world.teacher, page=50, per_page=10)
    assert answer["hits"] == [] and answer["total"] == 5


def test_changes_reach_the_index_through_the_change_log(services, world, library, reindex) -> None:
    update_resource(services, world.school_editor, library["pyth"], {"title": "毕达哥拉斯定理"})
    delete_resource(services, world.school_editor, library["autumn"])
    assert reindex() == 2
    assert ids_of(found(services, world.teacher, q="毕达哥拉斯")) == {library["pyth"]}
    assert found(services, world.teacher, q="秋天")["total"] == 0
    status = index_status(services)
    assert status["lag"] == 0 and status["seq"] == status["catalog_seq"]


def test_extracted_text_becomes_searchable(services, world, library, reindex) -> None:
    assert found(services, world.teacher, q="配方法")["total"] == 0
    sha = next(sha for sha, _, name in pending_texts(services, 50) if name.startswith("秋天"))
    store_text(services, sha, Extraction(status="done", text="本课学习配方法。", chars=8, truncated=False,
                                         extractor="test", message=""))
    reindex()
    answer = found(services, world.teacher, q="配方法")
    assert ids_of(answer) == {library["autumn"]} and "<mark>配方法</mark>" in answer["hits"][0]["snippet"]


def test_snippets_read_only_the_start_of_long_texts(services, world, library, reindex) -> None:
    """A match deep inside a long text still finds the resource, but the snippet comes from
    the text's start: scanning whole texts for every hit would cost more than the search."""
    sha = next(sha for sha, _, name in pending_texts(services, 50) if name.startswith("秋天"))
    text = "开头的段落。" + "填充内容" * 3000 + "本课学习配方法。"
    store_text(services, sha, Extraction(status="done", text=text, chars=len(text), truncated=False,
                                         extractor="test", message=""))
    reindex()
    answer = found(services, world.teacher, q="配方法")
    assert ids_of(answer) == {library["autumn"]}
    assert answer["hits"][0]["snippet"].startswith("开头的段落") and "<mark>" not in answer["hits"][0]["snippet"]


def test_sort_by_downloads(services, world, library, reindex) -> None:
    for who in (world.teacher, world.other_teacher):
        record_download(services, who, download_target(services, who, library["proof"]),
                        client="10.0.0.1", user_agent=BROWSER)
    writer = search_index(services).try_writer()
    writer.meta.extra = {"downloads_until": 0}
    refresh_downloads(services, writer)
    writer.close()
    answer = found(services, world.teacher, q="勾股定理", sort="downloads")
    assert answer["hits"][0]["id"] == library["proof"] and answer["hits"][0]["download_count"] == 2


def test_rebuild_swaps_in_a_complete_index(services, world, library) -> None:
    report = rebuild(services)
    assert report["documents"] == 6
    assert ids_of(found(services, world.teacher, q="勾股定理")) >= {library["pyth"], library["proof"]}
    assert len(search_index(services).store.generations()) == 1


def test_an_index_of_an_older_schema_is_rebuilt_by_the_indexer(services, world, library) -> None:
    """After an upgrade the live generation may hold an older schema: the background indexer
    rebuilds it beside the live one and swaps; search answers throughout."""
    index = search_index(services)
    old = index.store.current()
    index.store.write_meta(old, replace(index.store.read_meta(old), schema=1))
    assert index_status(services)["outdated"]
    work = BackgroundWork(services, poll_s=0.05, extract=False).start()
    try:
        deadline = time.monotonic() + 60
        while index.store.current() == old and time.monotonic() < deadline:
            assert library["pyth"] in ids_of(found(services, world.teacher, q="勾股定理"))
            time.sleep(0.05)
    finally:
        work.stop()
    status = index_status(services)
    assert status["generation"] != old.name and not status["outdated"] and status["lag"] == 0
    assert ids_of(found(services, world.teacher, q="勾股定理")) >= {library["pyth"], library["proof"]}


def test_hits_show_what_the_resource_view_shows(services, world, library) -> None:
    """Hits are read as plain rows (cheaper than ORM objects); they must say exactly what
    `resource_view` says, for every kind of resource (tags, no grade, private, organisation)."""
    from repo_server.catalog.models import Resource
    from repo_server.services.views import resource_view

    answer = found(services, world.school_editor, filters={"format": ("文档",)}, per_page=50)
    assert len(answer["hits"]) == 6
    with services.catalog.read() as session:
        for hit in answer["hits"]:
            expected = resource_view(session, session.get(Resource, hit["id"]), with_derivatives=False)
            assert {k: hit[k] for k in expected} == expected
            assert set(hit) - set(expected) <= {"title_html", "snippet", "download_count"}


def test_hits_the_catalog_no_longer_shows_are_left_out(services, world, library) -> None:
    """The index lags the catalog by a moment: a resource made private a moment ago is not
    shown to a teacher even while the index still lists it."""
    update_resource(services, world.school_editor, library["pyth"], {"visibility": "private"})
    answer = found(services, world.other_teacher, q="勾股定理")  # not re-indexed yet
    assert library["pyth"] not in ids_of(answer) and library["proof"] in ids_of(answer)
    assert library["pyth"] in ids_of(found(services, world.school_editor, q="勾股定理"))


def test_snippets_mark_the_synonym_the_text_uses(services, world, library) -> None:
    """The index folds 部编版 into 统编版; the snippet still shows and marks the text as written."""
    answer = found(services, world.teacher, q="统编版")
    (hit,) = [h for h in answer["hits"] if h["id"] == library["proof"]]
    assert "<mark>部编版</mark>" in hit["snippet"]
    assert answer["did_you_mean"] is None
    assert found(services, world.teacher, q="部编版")["did_you_mean"] is None   # an alias is no typo
