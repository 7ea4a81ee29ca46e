"""Vocabularies: seeded from vocab.json, never overwriting edits; resolving what people type."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from repo_server.catalog.models import VocabAlias, VocabTerm
from repo_server.catalog.vocab import VocabIndex, add_alias, add_term, seed_vocabularies
from repo_server.errors import InvalidInput, UnknownTerm


def test_seed_loads_every_scheme(services) -> None:
    seed = json.loads(services.settings.vocab_seed.read_text(encoding="utf-8"))
    with services.catalog.read() as session:
        counts = dict(session.execute(select(VocabTerm.scheme, func.count()).group_by(VocabTerm.scheme)).all())
    assert counts["stage"] == len(seed["stages"])
    assert counts["grade"] == len(seed["grades"])
    assert counts["subject"] == len(seed["subjects"])
    assert counts["edition"] == len(seed["editions"])
    assert counts["type"] == len(seed["resource_types"])
    assert counts["volume"] == len(seed["volumes"]["compulsory"]) + len(seed["volumes"]["senior_high"])


def test_reseeding_adds_nothing_and_keeps_edits(services) -> None:
    with services.catalog.write() as session:
        term = session.scalars(select(VocabTerm).where(VocabTerm.scheme == "subject",
                                                       VocabTerm.code == "SX")).one()
        term.name = "数学（本地名称）"
    with services.catalog.write() as session:
        assert seed_vocabularies(session, services.settings.vocab_seed) == 0
    with services.catalog.read() as session:
        term = session.scalars(select(VocabTerm).where(VocabTerm.code == "SX")).one()
        assert term.name == "数学（本地名称）"


@pytest.mark.parametrize(("scheme", "typed", "stage", "expected"), [
    ("grade", "初一", None, "七年级"),
    ("grade", "G7", None, "七年级"),                   # code
    ("subject", "生物", None, "生物学"),
    ("subject", "思想品德", None, "道德与法治"),
    ("edition", "部编版", None, "统编版"),
    ("edition", "pep", None, "人教版（PEP）（三年级起点）"),   # case-folded alias
    ("edition", "人教版（ A版 ）", None, "人教版（A版）"),     # whitespace ignored
    ("edition", "人教版(A版)", None, "人教版（A版）"),        # half-width brackets folded
    ("volume", "必修1", None, "必修 第一册"),
    ("volume", "必修第一册", None, "必修 第一册"),
    ("type", "导学案", None, "学案"),
    ("type", "PPT", None, "课件"),
    ("subject", "信息技术", "GZ", "信息技术"),   # the 高中 subject of that name
    ("subject", "信息技术", "CZ", "信息科技"),   # 初中: the old name of 信息科技
])
def test_resolve(services, scheme: str, typed: str, stage: str | None, expected: str) -> None:
    with services.catalog.read() as session:
        assert VocabIndex.load(session).resolve(scheme, typed, stage=stage).name == expected


def test_unknown_term_suggests_close_matches(services) -> None:
    with services.catalog.read() as session:
        with pytest.raises(UnknownTerm) as caught:
            VocabIndex.load(session).resolve("subject", "数字")
    assert caught.value.field == "subject"
    assert "数学" in caught.value.details["suggestions"]
    assert "数学" in caught.value.message


def test_ambiguous_alias_needs_the_stage(services) -> None:
    with services.catalog.write() as session:
        add_term(session, "edition", "甲版", aliases=["同名版"])
        add_term(session, "edition", "乙版", aliases=["同名版"])
    with services.catalog.read() as session:
        with pytest.raises(UnknownTerm, match="ambiguous"):
            VocabIndex.load(session).resolve("edition", "同名版")


def test_add_term_and_alias(services) -> None:
    with services.catalog.write() as session:
        term = add_term(session, "edition", "某省地方版", aliases=["地方版"])
        assert term.code.startswith("L")
        add_alias(session, "edition", "某省地方版", "省编版")
        add_alias(session, "edition", "某省地方版", "省编版")  # idempotent
    with services.catalog.read() as session:
        index = VocabIndex.load(session)
        assert index.resolve("edition", "省编版").name == "某省地方版"
        assert index.resolve("edition", "地方版").name == "某省地方版"
        count = session.scalar(select(func.count()).select_from(VocabAlias).where(VocabAlias.alias == "省编版"))
        assert count == 1


def test_add_term_refuses_duplicates_and_bad_schemes(services) -> None:
    with services.catalog.write() as session:
        with pytest.raises(InvalidInput, match="already has"):
            add_term(session, "subject", "生物")  # an alias of 生物学
        with pytest.raises(InvalidInput, match="unknown vocabulary"):
            add_term(session, "colour", "红")
