"""The SearchIndex contract: what both engines must do identically."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from repo_server.indexer import AccessFilter, SearchIndex, SearchRequest, build_text_query
from repo_server.indexer.engine import ENGINES


@pytest.fixture
def library(index, doc):
    writer = index.try_writer()
    writer.apply([
        doc("pyth", "勾股定理 课件", body="用面积法证明勾股定理", facets={"subject": "SX", "grade": "G8"},
            created=10, downloads=5),
        doc("proof", "勾股定理的证明 教学设计", description="部编版 配套", facets={"subject": "SX", "grade": "G8"},
            created=20, downloads=50),
        doc("autumn", "秋天 课文朗读", tags="朗读 古诗", facets={"subject": "YW", "grade": "G1"}, created=30),
        doc("cell", "植物细胞 显微图", labels="生物学 七年级", facets={"subject": "SW", "grade": "G7"}, created=40),
        doc("trad", "檸檬 電子書", body="梶井基次郎 著", facets={"type": "DZTS"}, created=50),
        doc("pep", "PEP 三年级 英语 Unit 1", facets={"subject": "YY"}, created=60),
        doc("draft", "勾股定理 草稿", status="draft", owner_id="7", org_id="4", org_path=("1", "4"), created=70),
        doc("org", "勾股定理 校内资料", visibility="organisation", org_id="4", org_path=("1", "4"), created=80),
        doc("secret", "勾股定理 私有", visibility="private", owner_id="7", org_id="5", org_path=("1", "5"), created=90),
    ], [], seq=9)
    writer.close()
    return index


@pytest.mark.parametrize(("query", "expected"), [
    ("勾股定理", {"pyth", "proof"}),
    ("勾股", {"pyth", "proof"}),                  # part of a word
    ("勾股定理 教学设计", {"proof"}),             # every word must match
    ("gougu", {"pyth", "proof"}),                 # pinyin
    ("ggdl", {"pyth", "proof"}),                  # initials
    ("统编版", {"proof"}),                         # synonym of 部编版 in the description
    ("初一", {"cell"}),                            # alias of 七年级 in the labels
    ("生物", {"cell"}),
    ("柠檬", {"trad"}),                            # traditional text, simplified query
    ("檸檬", {"trad"}),                            # and the other way round
    ("pep", {"pep"}),
    ("PEP", {"pep"}),                              # case-folded
    ("古诗", {"autumn"}),                          # tags
    ("面积法", {"pyth"}),                          # body text
])
def test_text_matching(library, find, query, expected) -> None:
    assert set(find(query)) == expected


def test_a_document_indexed_before_its_alias_existed_is_still_found(library, analyzer, find) -> None:
    """Folding happens when a document is indexed; one indexed before an administrator added
    an alias holds the alias unfolded, and the query still asks for the word as typed."""
    from repo_server.indexer import SearchDocument
    writer = library.try_writer()
    writer.apply([SearchDocument(id="old", title=" ".join(analyzer.index_tokens("部编本 语文 复习")))], [])
    writer.close()
    assert set(find("部编本")) == {"old", "proof"}      # proof: 部编版, folded into 统编版
    assert set(find("统编版")) == {"proof"}             # the unfolded old form is not its name


def test_title_matches_rank_above_body_matches(library, doc, find) -> None:
    writer = library.try_writer()
    writer.apply([doc("bodyonly", "几何复习", body="勾股定理 练习")], [])
    writer.close()
    ranked = find("勾股定理")
    assert ranked.index("bodyonly") == len(ranked) - 1


def test_relaxed_query_matches_any_word(library, analyzer, synonyms) -> None:
    text = build_text_query(analyzer, synonyms, "秋天 细胞")
    strict = library.search(SearchRequest(text=text, access=AccessFilter()))
    relaxed = library.search(SearchRequest(text=text.__class__(text.clauses, False), access=AccessFilter()))
    assert strict.total == 0 and {h.id for h in relaxed.hits} == {"autumn", "cell"}


def test_filters_and_facets(library, find) -> None:
    request = dict(facets=("subject", "grade"))
    result = library.search(SearchRequest(text=None, access=AccessFilter(), **request))
    assert result.total == 6
    assert result.facets["subject"] == {"SX": 2, "YW": 1, "SW": 1, "YY": 1}
    assert result.facets["grade"] == {"G8": 2, "G1": 1, "G7": 1}
    assert set(find(None, filters={"subject": ("SX", "YW")})) == {"pyth", "proof", "autumn"}
    assert set(find(None, filters={"subject": ("SX",), "grade": ("G1",)})) == set()
    assert find("勾股定理", filters={"subject": ("YW",)}) == []


@pytest.mark.parametrize("filters", [
    {"subject": ("SX",)},
    {"subject": ("SX", "YW"), "grade": ("G8",)},
    {"subject": ("SX",), "grade": ("G1",)},                  # no hits, but counts to offer
    {"subject": ("SX", "SW", "YY"), "grade": ("G8", "G7"), "type": ("DZTS",)},
    {"grade": ("G8",), "subject": ("S X:\"1",)},              # a code the query syntax would break
])
@pytest.mark.parametrize("text", [None, "勾股定理"])
def test_disjunctive_facets_ignore_only_their_own_filter(library, analyzer, synonyms, filters, text) -> None:
    """One request gives what one request per filtered facet gave: each filtered facet
    counted with the other filters only, the rest with all of them; permissions throughout."""
    query = build_text_query(analyzer, synonyms, text) if text else None
    facets = ("subject", "grade", "type", "stage")
    access = AccessFilter(org_ids=("1", "4"))
    result = library.search(SearchRequest(text=query, access=access, filters=filters, facets=facets,
                                          disjunctive=True))
    plain = library.search(SearchRequest(text=query, access=access, filters=filters, facets=facets))
    assert result.total == plain.total and result.hits == plain.hits
    for name in facets:
        others = {f: v for f, v in filters.items() if f != name}
        alone = library.search(SearchRequest(text=query, access=access, filters=others, facets=(name,)))
        assert result.facets[name] == alone.facets[name], name
        if name not in filters:
            assert result.facets[name] == plain.facets[name]


@pytest.mark.parametrize(("access", "expected"), [
    (AccessFilter(), set()),
    (AccessFilter(public=False), set()),
    (AccessFilter(org_ids=("1", "4")), {"org"}),                 # a teacher of org 4
    (AccessFilter(org_ids=("1",)), set()),                       # org 4's item is not for org 1
    (AccessFilter(owner_id="7"), {"draft", "secret"}),           # the uploader
    (AccessFilter(managed_org_id="1"), {"draft", "org", "secret"}),  # an editor above both
    (AccessFilter(admin=True), {"draft", "org", "secret"}),
])
def test_access_filter_inside_the_engine(library, find, access, expected) -> None:
    restricted = {"draft", "org", "secret"}
    found = set(find("勾股定理", access=access))
    assert found & restricted == expected
    assert ("pyth" in found) == (access.public or access.admin)
    counted = library.search(SearchRequest(text=None, access=access, facets=("subject",)))
    assert counted.total == len(set(find(None, access=access)))  # counts see only what hits see


def test_sorting_and_stable_paging(library, find) -> None:
    assert find(None, sort="newest")[:3] == ["pep", "trad", "cell"]
    assert find("勾股定理", sort="downloads") == ["proof", "pyth"]
    everything = find(None, sort="relevance")
    pages = [find(None, offset=i, limit=2) for i in range(0, 8, 2)]
    assert [doc_id for page in pages for doc_id in page] == everything
    assert find(None, offset=100, limit=10) == []


def test_sorting_by_a_field_across_segments_with_ties_and_deletions(index, doc, find) -> None:
    """Browsing everything by date (most of the library matches) and a narrow filter (few
    match) order alike: largest value first, ties in index order, deletions skipped."""
    created = {f"d{n:03}": (n * 7) % 50 for n in range(150)}       # three of each date
    for start in range(0, 150, 50):                                  # one commit per 50: segments
        writer = index.try_writer()
        writer.apply([doc(i, "资料", created=c, facets={"grade": "G1" if n % 10 == 0 else "G2"})
                      for n, (i, c) in enumerate(list(created.items())[start:start + 50], start)], [])
        writer.close()
    writer = index.try_writer()
    writer.apply([], ["d049", "d000"])
    writer.close()
    del created["d049"], created["d000"]
    everything = find(None, sort="newest", limit=200)
    assert [created[i] for i in everything] == sorted(created.values(), reverse=True)
    assert find(None, sort="newest", offset=10, limit=25) == everything[10:35]
    few = find(None, sort="newest", filters={"grade": ("G1",)}, limit=200)
    assert few == [i for i in everything if int(i[1:]) % 10 == 0]


def test_upsert_replaces_and_delete_removes(library, doc, find) -> None:
    writer = library.try_writer()
    writer.apply([doc("pyth", "毕达哥拉斯定理 课件")], ["autumn"], seq=12)
    writer.close()
    assert "pyth" not in find("勾股定理") and find("毕达哥拉斯") == ["pyth"]
    assert find("秋天") == []
    assert library.status()["seq"] == 12 and library.status()["documents"] == 8


def test_a_warm_reader_sees_updates_and_deletions(library, doc, find) -> None:
    """A reader that already answered must not keep an updated document's old copy: made
    private, it leaves everyone else's results (and counts) at once, and appears once."""
    assert set(find("勾股定理")) == {"pyth", "proof"}           # the reader is warm now
    writer = library.try_writer()
    writer.apply([doc("pyth", "勾股定理 课件", visibility="private", owner_id="9", org_id="5",
                      org_path=("1", "5"))], ["proof"], seq=13)
    writer.close()
    assert find("勾股定理") == []
    assert library.search(SearchRequest(text=None, access=AccessFilter())).total == 4
    admin = find("勾股定理", access=AccessFilter(admin=True))
    assert sorted(admin) == sorted(set(admin)) and "pyth" in admin and "proof" not in admin


def test_term_statistics_for_did_you_mean(library) -> None:
    assert library.doc_freq("勾股定理") >= 2 and library.doc_freq("勾古定理") == 0
    sounds = library.terms_with_prefix("sounds", "gougudingli:", 5)
    assert sounds[0][0] == "gougudingli:勾股定理" and sounds[0][1] >= 2


def test_one_writer_per_generation(library) -> None:
    first = library.try_writer()
    assert first is not None
    assert SearchIndex(library.store.root, library.engine).try_writer() is None
    first.close()
    again = library.try_writer()
    assert again is not None
    again.close()


def test_a_dead_writer_releases_its_lock(library) -> None:
    """The lock is the OS's: a writer process that dies leaves the generation writable."""
    script = textwrap.dedent(f"""
        import os, sys
        from repo_server.indexer import SearchIndex
        writer = SearchIndex({str(library.store.root)!r}, {library.engine.name!r}).try_writer()
        print("locked" if writer else "refused", flush=True)
        os._exit(0)   # no cleanup: as if killed
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "locked", result.stderr
    writer = library.try_writer()
    assert writer is not None
    writer.close()


def test_rebuild_swaps_generations_while_search_answers(library, doc, find) -> None:
    before = set(find("勾股定理"))
    fresh = library.new_generation_writer()
    fresh.apply([doc("new", "勾股定理 新版课件")], [], seq=99)
    assert set(find("勾股定理")) == before  # still the live generation
    library.publish(fresh)
    fresh.close()
    assert find("勾股定理") == ["new"]
    assert library.status()["seq"] == 99
    assert len(library.store.prune(keep=0)) == 1 and len(library.store.generations()) == 1


def test_both_engines_agree(tmp_path, doc, analyzer, synonyms) -> None:
    docs = [doc(f"d{i}", title, body=body, created=i) for i, (title, body) in enumerate([
        ("勾股定理 课件", "直角三角形"), ("一元二次方程 教案", "配方法 公式法"), ("秋天 朗读", "天气凉了"),
        ("勾股定理的应用", "梯子问题"), ("光合作用 微课", "叶绿体"), ("Unit 1 Hello PEP", "greeting")])]
    results = {}
    for engine in ENGINES:
        idx = SearchIndex(tmp_path / engine, engine)
        writer = idx.try_writer()
        writer.apply(docs, [])
        writer.close()
        results[engine] = [
            [h.id for h in idx.search(SearchRequest(text=build_text_query(analyzer, synonyms, q),
                                                    access=AccessFilter(), limit=10)).hits]
            for q in ["勾股定理", "方程", "pep", "gougu", "叶绿体 微课", "天气"]]
        idx.close()
    assert results["whoosh"] == results["tantivy"]


def test_search_before_the_first_document_then_after(index, doc, find) -> None:
    """The reader of an empty index must refresh once documents arrive (a whoosh3 bug)."""
    assert find("勾股定理") == []
    writer = index.try_writer()
    writer.apply([doc("first", "勾股定理 课件")], [], seq=1)
    assert find("勾股定理") == ["first"]
    writer.apply([doc("second", "勾股定理 教案")], [], seq=2)
    writer.close()
    assert set(find("勾股定理")) == {"first", "second"}


def test_a_word_never_shrinks_to_one_of_its_parts(index, doc, find) -> None:
    """七年级 must not match every grade through its part 年级."""
    writer = index.try_writer()
    writer.apply([doc("g7", "细胞 学案", labels="七年级"), doc("g8", "力 学案", labels="八年级")], [])
    writer.close()
    assert find("七年级") == ["g7"]
