"""Synonym folding and query building (indexer/parse.py): one canonical term per group."""

from __future__ import annotations

from repo_server.indexer import Synonyms, build_text_query, fold


def test_every_form_of_a_group_folds_into_its_first_name(analyzer) -> None:
    synonyms = Synonyms(analyzer, [["七年级", "初一", "初中一年级"], ["生物学", "生物"], ["课件", "PPT", "課件"]])
    assert synonyms.canonical("初一") == synonyms.canonical("初中一年级") == "七年级"
    assert synonyms.canonical("七年级") == "七年级" and synonyms.canonical("数学") == "数学"
    assert synonyms.canonical("ppt") == "课件"               # normalised: case-folded
    assert "課件" not in synonyms.folding                      # traditional folds to the name itself
    assert fold(["初一", "生物", "细胞"], synonyms.folding) == ["七年级", "生物学", "细胞"]
    assert set(synonyms.of("初一")) == {"七年级", "初中一年级"}


def test_groups_sharing_a_form_are_one_group_named_by_the_older(analyzer) -> None:
    synonyms = Synonyms(analyzer, [["道德与法治", "思想品德"], ["思品", "思想品德"]])
    assert synonyms.canonical("思品") == synonyms.canonical("思想品德") == "道德与法治"
    assert set(synonyms.of("思品")) == {"道德与法治", "思想品德"}


def test_a_synonym_word_asks_for_one_canonical_term_and_itself(analyzer) -> None:
    synonyms = Synonyms(analyzer, [["统编版", "部编版", "部编本"]])
    (clause,) = build_text_query(analyzer, synonyms, "部编本").clauses
    assert clause == ((("text", "统编版"),), (("text", "部编本"),))     # not one term per form
    (canonical,) = build_text_query(analyzer, synonyms, "统编版").clauses
    assert canonical == ((("text", "统编版"),),)


def test_a_form_split_into_several_words_stays_an_alternative(analyzer) -> None:
    synonyms = Synonyms(analyzer, [["人教版", "人教 PEP 三年级起点"]])
    (clause,) = build_text_query(analyzer, synonyms, "人教版").clauses
    split = [alt for alt in clause if len(alt) > 1]
    assert split and all(token for _, token in split[0])


def test_an_ordinal_is_one_term_not_its_common_parts(analyzer, synonyms) -> None:
    clauses = build_text_query(analyzer, synonyms, "必修 第一册").clauses
    assert clauses[-1] == ((("text", "第1册"),),)          # not also 第 AND 1 AND 册
