"""From what a teacher typed to a TextQuery, the same for every engine.

Every word the teacher typed must match (AND), each in any of its forms (OR): the word, a
synonym from the vocabularies (部编版 ↔ 统编版, 初一 ↔ 七年级, 生物 ↔ 生物学), the smaller
dictionary words that together spell it (勾股定理 → 勾股 + 定理, when the text was segmented
differently), or — for Latin letters — pinyin of titles (gougu, ggdl). Nothing is an
operator: quotes, AND/OR, *, -, emoji and control characters are just separators, so no
input can break the query.
"""

from __future__ import annotations

import unicodedata
from typing import Iterable

from .analysis import Analyzer, is_ascii_word
from .query import Alternative, Clause, TextQuery

__all__ = ["Synonyms", "build_text_query", "clean_query", "MAX_QUERY_CHARS", "MAX_CLAUSES"]

MAX_QUERY_CHARS = 200   # longer is refused: nobody types more, and cost grows with words
MAX_CLAUSES = 12        # words beyond this are ignored


def clean_query(text: str) -> str:
    """Drop control and format characters; collapse whitespace."""
    kept = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return " ".join(kept.split())


class Synonyms:
    """Groups of equivalent names, keyed by their normalised form."""

    def __init__(self, analyzer: Analyzer, groups: Iterable[Iterable[str]]) -> None:
        self._groups: dict[str, tuple[str, ...]] = {}
        for group in groups:
            forms = tuple(dict.fromkeys(analyzer.normalize(name).replace(" ", "") for name in group))
            for form in forms:
                merged = self._groups.get(form, ()) + forms
                self._groups[form] = tuple(dict.fromkeys(merged))

    def of(self, word: str) -> tuple[str, ...]:
        return tuple(w for w in self._groups.get(word, ()) if w != word)

    def __contains__(self, word: str) -> bool:
        """A vocabulary name: the analyzer knows it as one word, wherever it occurs."""
        return word in self._groups


def build_text_query(analyzer: Analyzer, synonyms: Synonyms, text: str) -> TextQuery | None:
    """The query for `text`, or None when it holds no searchable word."""
    words = analyzer.query_words(clean_query(text))[:MAX_CLAUSES]
    clauses: list[Clause] = []
    for word in words:
        alternatives: list[Alternative] = [(("text", word),)]
        for synonym in synonyms.of(word):
            tokens = analyzer.query_words(synonym)
            if tokens:
                alternatives.append(tuple(("text", t) for t in tokens))
        # Not for vocabulary names (always indexed whole; 八年级's parts 八年 + 年级 would only
        # add work: 年级 is in nearly every document), and only when the parts cover every
        # character (七年级's only part is 年级, which alone would find every grade).
        parts = analyzer.subwords(word) if word not in synonyms else []
        if len(word) >= 3 and parts and set(word) <= set("".join(parts)):
            alternatives.append(tuple(("text", t) for t in parts))
        if is_ascii_word(word) and len(word) >= 2:
            alternatives.append((("pinyin", word),))
        clauses.append(tuple(dict.fromkeys(alternatives)))
    return TextQuery(tuple(clauses)) if clauses else None
