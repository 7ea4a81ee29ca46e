"""Highlighted snippets, made from the original text (not from an engine's index), so both
engines produce the same snippets and teachers see their own characters — traditional stays
traditional, PEP stays upper-case — while matching uses the normalised forms.

Output is HTML: the text is escaped and matches are wrapped in <mark>.
"""

from __future__ import annotations

import html
from typing import Callable, Iterable, Sequence

from .analysis import Analyzer

__all__ = ["Highlighter"]


class _FoldTable(dict):
    """ord(character) → its normalised form, learned on first sight: `str.translate` looks every
    character up here, so folding a text runs in C once its characters are known. Characters
    whose form is not exactly one character (ß → ss) are remembered in `irregular`."""

    def __init__(self, fold: Callable[[str], str]) -> None:
        super().__init__()
        self._fold = fold
        self.irregular: set[str] = set()

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        folded = self._fold(ch)
        if len(folded) != 1:
            self.irregular.add(ch)   # before the entry: whoever sees the entry sees this too
        self[code] = folded
        return folded


class Highlighter:
    def __init__(self, analyzer: Analyzer) -> None:
        self._analyzer = analyzer
        self._table = _FoldTable(analyzer.normalize)

    def _folded(self, text: str) -> tuple[str, Sequence[int]]:
        """The normalised text and, for each of its characters, the original index. Character by
        character, so positions map back to the teacher's own text."""
        folded = text.translate(self._table)
        if self._table.irregular.isdisjoint(text):  # one character for one: positions unchanged
            return folded, range(len(text))
        out: list[str] = []
        origin: list[int] = []
        for index, ch in enumerate(text):
            form = self._table[ord(ch)]
            out.append(form)
            origin.extend([index] * len(form))
        return "".join(out), origin

    @staticmethod
    def _matches(folded: str, tokens: list[str]) -> list[tuple[int, int, str]]:
        """Non-overlapping (start, end, token) occurrences, longest tokens first."""
        taken = [False] * len(folded)
        found = []
        for token in sorted(tokens, key=len, reverse=True):
            start = folded.find(token)
            while start != -1:
                end = start + len(token)
                if not any(taken[start:end]):
                    found.append((start, end, token))
                    for i in range(start, end):
                        taken[i] = True
                start = folded.find(token, end)
        return sorted(found)

    def _tokens(self, tokens: Iterable[str]) -> list[str]:
        return [t for t in set(tokens) if len(t) > 1 or not t.isascii()]

    def mark(self, text: str, tokens: Iterable[str]) -> str:
        """All of `text`, escaped, with every match marked (for titles)."""
        folded, origin = self._folded(text)
        return self._render(text, 0, len(text), self._matches(folded, self._tokens(tokens)), origin)

    def snippet(self, text: str, tokens: Iterable[str], width: int = 120) -> str:
        """The `width` characters of `text` with the most distinct matches, escaped and
        marked; the start of the text when nothing matches."""
        if not text:
            return ""
        folded, origin = self._folded(text)
        matches = self._matches(folded, self._tokens(tokens))
        if not matches:
            end = min(len(text), width)
            return html.escape(text[:end]) + ("…" if end < len(text) else "")
        best_start = self._best_window(matches, origin, width)
        end = min(len(text), best_start + width)
        return self._render(text, best_start, end, matches, origin)

    @staticmethod
    def _best_window(matches: list[tuple[int, int, str]], origin: Sequence[int], width: int) -> int:
        """Start of the first window (each begins a little before a match) holding the most
        distinct matched tokens. Matches are sorted and do not overlap, so the matches inside
        a window are a run that slides forward: one pass, not one scan per match."""
        best_start, best_score = 0, -1
        inside: dict[str, int] = {}
        lo = hi = 0
        for start, _, _ in matches:
            window_start = max(0, origin[start] - width // 4)
            window_end = window_start + width
            while hi < len(matches) and origin[matches[hi][1] - 1] < window_end:
                token = matches[hi][2]
                inside[token] = inside.get(token, 0) + 1
                hi += 1
            while lo < hi and origin[matches[lo][0]] < window_start:
                token = matches[lo][2]
                inside[token] -= 1
                if not inside[token]:
                    del inside[token]
                lo += 1
            if len(inside) > best_score:
                best_start, best_score = window_start, len(inside)
        return best_start

    @staticmethod
    def _render(text: str, start: int, end: int, matches: list[tuple[int, int, str]],
                origin: Sequence[int]) -> str:
        """`text[start:end]`, escaped, with the matches (folded positions) marked."""
        spans: list[list[int]] = []
        for s, e, _ in matches:
            first, last = origin[s], origin[e - 1] + 1
            if first < start or last > end or (spans and first < spans[-1][1]):
                continue
            if spans and first == spans[-1][1]:
                spans[-1][1] = last  # touching matches read as one: 配 + 方法 → 配方法
            else:
                spans.append([first, last])
        parts, cursor = [], start
        for first, last in spans:
            parts += [html.escape(text[cursor:first]), "<mark>", html.escape(text[first:last]), "</mark>"]
            cursor = last
        parts.append(html.escape(text[cursor:end]))
        prefix = "…" if start > 0 else ""
        suffix = "…" if end < len(text) else ""
        return prefix + "".join(parts) + suffix
