"""Metadata parsing rules that do not need the database beyond the vocabulary."""

from __future__ import annotations

import pytest

from repo_server.catalog.vocab import VocabIndex
from repo_server.errors import InvalidInput
from repo_server.services.fields import FIELDS, parse_metadata, split_tags


def test_split_tags() -> None:
    assert split_tags(["a,b", "b；c", " 、d ", ""]) == ["a", "b", "c", "d"]


@pytest.mark.parametrize("title", ["<<静夜思>>", "a<b 且 b>c", "《论语》十二章", "C++ 与 <算法>"])
def test_plain_text_allowed(services, title) -> None:
    with services.catalog.read() as session:
        assert parse_metadata({"title": title}, VocabIndex.load(session))["title"] == title


@pytest.mark.parametrize("title", ["<b>粗</b>", "<script>x</script>", "<!-- c -->", "javascript:alert(1)",
                                   "<a href='x'>", "<?php ?>"])
def test_markup_refused(services, title) -> None:
    with services.catalog.read() as session:
        with pytest.raises(InvalidInput, match="markup"):
            parse_metadata({"title": title}, VocabIndex.load(session))


def test_choices_accept_chinese_labels(services) -> None:
    with services.catalog.read() as session:
        parsed = parse_metadata({"visibility": "本单位", "status": "草稿"}, VocabIndex.load(session))
    assert parsed == {"visibility": "organisation", "status": "draft"}


def test_lengths_are_enforced(services) -> None:
    limit = next(f.max_length for f in FIELDS if f.name == "title")
    with services.catalog.read() as session:
        with pytest.raises(InvalidInput, match="limit"):
            parse_metadata({"title": "课" * (limit + 1)}, VocabIndex.load(session))
