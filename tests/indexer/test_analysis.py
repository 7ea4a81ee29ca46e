"""Chinese analysis: normalisation, segmentation with the education dictionary, pinyin."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(("text", "normalized"), [
    ("課件", "课件"), ("檸檬", "柠檬"), ("ＰＥＰ", "pep"), ("第三课", "第3课"), ("第十二章", "第12章"),
    ("第二十三课", "第23课"), ("第一单元", "第1单元"), ("初中一年级", "初中一年级"),
])
def test_normalize(analyzer, text, normalized) -> None:
    assert analyzer.normalize(text) == normalized


def test_education_words_stay_whole(analyzer) -> None:
    words = analyzer.query_words("统编版导学案勾股定理微课")
    assert words == ["统编版", "导学案", "勾股定理", "微课"]


def test_index_tokens_keep_digits_latin_and_ordinals(analyzer) -> None:
    tokens = analyzer.index_tokens("第三課 3D打印 PEP")
    assert {"第3课", "3d", "打印", "pep"} <= set(tokens)
    assert "的" not in analyzer.index_tokens("勾股定理的证明")      # stop words dropped


def test_query_keeps_ordinals_as_one_word(analyzer) -> None:
    assert analyzer.query_words("第3课 秋天") == ["秋天", "第3课"]


def test_pinyin_of_titles(analyzer) -> None:
    pinyin, sounds = analyzer.pinyin_tokens("勾股定理 课件")
    assert {"gougudingli", "ggdl", "gougu", "gg", "kejian", "gougudinglikejian"} <= set(pinyin)
    assert "gougudingli:勾股定理" in sounds


def test_vocabulary_words_can_be_taught(analyzer) -> None:
    analyzer.add_word("校本课程新词")
    assert "校本课程新词" in analyzer.query_words("校本课程新词")
