"""Collects the relevance scores and prints them at the end of the run."""

from __future__ import annotations

SCORES: list[tuple[str, float, float, list[str]]] = []


def pytest_terminal_summary(terminalreporter) -> None:
    if not SCORES:
        return
    terminalreporter.section("search relevance (judged queries)")
    for engine, ndcg, recall, misses in SCORES:
        terminalreporter.write_line(f"{engine:8} nDCG@10 {ndcg:.3f}   must-find recall {recall:.3f}")
        for miss in misses:
            terminalreporter.write_line(f"         missed: {miss}")
