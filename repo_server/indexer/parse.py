"""From what a teacher typed to a TextQuery, the same for every engine.

Every word the teacher typed must match (AND), each in any of its forms (OR): the word, its
synonyms from the vocabularies (部编版 ↔ 统编版, 初一 ↔ 七年级, 生物 ↔ 生物学: one canonical
term, since the index holds every form folded into it; see `Synonyms`), the smaller
dictionary words that together spell it (勾股定理 → 勾股 + 定理, when the text was segmented
differently), or — for Latin letters — pinyin of titles (gougu, ggdl). Nothing is an
operator: quotes, AND/OR, *, -, emoji and control characters are just separators, so no
input can break the query.
"""

from __future__ import annotations

import unicodedata
from typing import Iterable, Mapping

from .analysis import Analyzer, is_ascii_word, is_ordinal
from .query import Alternative, Clause, TextQuery

__all__ = ["Synonyms", "fold", "build_text_query", "clean_query", "MAX_QUERY_CHARS", "MAX_CLAUSES"]

MAX_QUERY_CHARS = 200   # longer is refused: nobody types more, and cost grows with words
MAX_CLAUSES = 12        # words beyond this are ignored


def clean_query(text: str) -> str:
    """Drop control and format characters; collapse whitespace."""
    kept = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return " ".join(kept.split())


class Synonyms:
    """Groups of equivalent names (a vocabulary term's name and aliases), keyed by their
    normalised form, each with one canonical form (the first name of its first group).

    Both engines index the canonical form in place of every other form of a group ("folding",
    as with Lucene's equivalent synonyms at index time), so a query word costs one term
    instead of one per form: a query over ten words with three or four forms each was most of
    Tantivy's time at a million items. Groups sharing a form are one group.
    """

    def __init__(self, analyzer: Analyzer, groups: Iterable[Iterable[str]]) -> None:
        parent: dict[str, str] = {}
        order: dict[str, int] = {}

        def root(form: str) -> str:
            while parent[form] != form:
                parent[form] = form = parent[parent[form]]
            return form
        for group in groups:
            forms = list(dict.fromkeys(analyzer.normalize(name).replace(" ", "") for name in group))
            for form in forms:
                parent.setdefault(form, form)
                order.setdefault(form, len(order))
            for form in forms[1:]:
                a, b = sorted((root(forms[0]), root(form)), key=order.__getitem__)
                if a != b:  # the older root stays the root: the first name seen is canonical
                    parent[b] = a
        members: dict[str, list[str]] = {}
        for form in parent:  # insertion order: a group's forms in the order they were named
            members.setdefault(root(form), []).append(form)
        self._groups = {form: tuple(members[root(form)]) for form in parent}
        #: form → canonical form, for the forms that are not canonical themselves
        self.folding: dict[str, str] = {form: root(form) for form in parent if root(form) != form}

    def of(self, word: str) -> tuple[str, ...]:
        """The other forms of `word`'s group (for highlighting and multi-word forms)."""
        return tuple(w for w in self._groups.get(word, ()) if w != word)

    def canonical(self, word: str) -> str:
        return self.folding.get(word, word)

    def __contains__(self, word: str) -> bool:
        """A vocabulary name: the analyzer knows it as one word, wherever it occurs."""
        return word in self._groups


def fold(tokens: Iterable[str], folding: Mapping[str, str]) -> list[str]:
    """Index tokens with every form of a synonym group replaced by its canonical form."""
    return [folding.get(t, t) for t in tokens]


def build_text_query(analyzer: Analyzer, synonyms: Synonyms, text: str) -> TextQuery | None:
    """The query for `text`, or None when it holds no searchable word.

    A word that names a synonym group asks for the group's canonical form (what the index
    holds for every form) and for the word itself: documents indexed before an alias was
    added still hold it unfolded. A form that the analyzer splits into several words (e.g. with
    punctuation inside) stays an alternative of its own, since only single tokens fold."""
    words = analyzer.query_words(clean_query(text))[:MAX_CLAUSES]
    folding = synonyms.folding
    clauses: list[Clause] = []
    for word in words:
        alternatives: list[Alternative] = [(("text", synonyms.canonical(word)),), (("text", word),)]
        for synonym in synonyms.of(word):
            tokens = analyzer.query_words(synonym)
            if len(tokens) > 1:
                alternatives.append(tuple(("text", t) for t in fold(tokens, folding)))
        # Not for vocabulary names and ordinals (always indexed whole; 八年级's parts 八年 + 年级
        # or 第1册's 第 + 1 + 册 would only add work and noise: they are in nearly every
        # document), and only when the parts cover every character (七年级's only part is 年级,
        # which alone would find every grade).
        parts = analyzer.subwords(word) if word not in synonyms and not is_ordinal(word) else []
        if len(word) >= 3 and parts and set(word) <= set("".join(parts)):
            alternatives.append(tuple(("text", t) for t in fold(parts, folding)))
        if is_ascii_word(word) and len(word) >= 2:
            alternatives.append((("pinyin", word),))
        clauses.append(tuple(dict.fromkeys(alternatives)))
    return TextQuery(tuple(clauses)) if clauses else None
