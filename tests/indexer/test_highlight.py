"""Snippets: the teacher's own characters, escaped, with matches marked."""

from __future__ import annotations

from repo_server.indexer import Highlighter


def test_marks_in_original_characters(analyzer) -> None:
    h = Highlighter(analyzer)
    out = h.mark("勾股定理的證明（PEP版）", ["勾股定理", "证明", "pep"])
    assert out == "<mark>勾股定理</mark>的<mark>證明</mark>（<mark>PEP</mark>版）"


def test_escapes_everything_else(analyzer) -> None:
    h = Highlighter(analyzer)
    out = h.mark("<<静夜思>> & <script>", ["静夜思"])
    assert out == "&lt;&lt;<mark>静夜思</mark>&gt;&gt; &amp; &lt;script&gt;"


def test_snippet_window_prefers_the_most_matches(analyzer) -> None:
    h = Highlighter(analyzer)
    text = "前言" * 100 + "本课讲勾股定理，并用面积法证明。" + "附录" * 100
    snippet = h.snippet(text, ["勾股定理", "证明"], width=40)
    assert snippet.startswith("…") and snippet.endswith("…")
    assert "<mark>勾股定理</mark>" in snippet and "<mark>证明</mark>" in snippet
    assert len(snippet.replace("<mark>", "").replace("</mark>", "")) <= 42


def test_snippet_without_matches_is_the_start(analyzer) -> None:
    assert Highlighter(analyzer).snippet("一二三四五", ["勾股"], width=3) == "一二三…"


def test_characters_that_fold_to_several_keep_their_places(analyzer) -> None:
    h = Highlighter(analyzer)
    assert h.mark("STRAßE 勾股定理", ["strasse", "勾股定理"]) == "<mark>STRAßE</mark> <mark>勾股定理</mark>"
    assert h.mark("㎡ 證明", ["证明"]) == "㎡ <mark>證明</mark>"   # ㎡ folds to "m2"


def test_snippet_window_is_the_first_with_most_distinct_words(analyzer) -> None:
    """The sliding window gives what checking every window separately gives."""
    h = Highlighter(analyzer)
    text = "勾股" + "。" * 50 + "勾股定理与证明" + "。" * 200 + "定理 证明 勾股定理" + "。" * 30
    tokens = ["勾股定理", "证明", "定理", "勾股"]
    folded, origin = h._folded(text)
    matches = h._matches(folded, h._tokens(tokens))
    expected_start, expected_score = 0, -1
    for start, _, _ in matches:  # the definition, spelled out
        window_start = max(0, origin[start] - 10)
        inside = {tok for s, e, tok in matches if window_start <= origin[s] and origin[e - 1] < window_start + 40}
        if len(inside) > expected_score:
            expected_start, expected_score = window_start, len(inside)
    assert h._best_window(matches, origin, 40) == expected_start
    assert h.snippet(text, tokens, width=40).startswith("…")
