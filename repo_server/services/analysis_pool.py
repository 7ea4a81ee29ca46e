"""Analysis of many documents in worker processes: rebuilds use both cores.

Segmentation is pure CPU and holds the GIL, so threads would not help. Workers are spawned
(never forked from a threaded web worker), each builds its own Analyzer with the
vocabulary's words once, and at most a few batches are in flight so memory stays bounded
however large the library. With one worker, analysis simply runs in-process.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context
from typing import Iterable, Iterator, Mapping

from repo_server.indexer import Analyzer, SearchDocument

from .search_documents import RawDocument, analyze
from .search_tools import learn_words

__all__ = ["AnalysisPool"]

_worker_analyzer: Analyzer | None = None
_worker_folding: Mapping[str, str] = {}


def _start_worker(words: list[str], folding: dict[str, str]) -> None:
    global _worker_analyzer, _worker_folding
    _worker_analyzer, _worker_folding = Analyzer(words), folding


def _analyze_batch(batch: list[RawDocument]) -> list[SearchDocument]:
    assert _worker_analyzer is not None
    return [analyze(raw, _worker_analyzer, _worker_folding) for raw in batch]


class AnalysisPool:
    """`words`: the vocabulary's names for the workers' dictionaries; `folding`: synonym form
    → canonical form (indexer.parse.Synonyms.folding)."""

    def __init__(self, words: list[str], folding: Mapping[str, str], *, workers: int = 1,
                 in_flight: int | None = None) -> None:
        self.workers = max(workers, 1)
        self.in_flight = in_flight or self.workers * 2
        self.folding = dict(folding)
        self.words = list(words)
        self._executor = None
        if self.workers > 1:
            self._executor = ProcessPoolExecutor(self.workers, mp_context=get_context("spawn"),
                                                 initializer=_start_worker, initargs=(words, self.folding))

    def analyze(self, batches: Iterable[list[RawDocument]]) -> Iterator[list[SearchDocument]]:
        """Analysed batches, in the order given."""
        if self._executor is None:
            analyzer = learn_words(self.words)
            for batch in batches:
                yield [analyze(raw, analyzer, self.folding) for raw in batch]
            return
        pending: deque[Future] = deque()
        for batch in batches:
            pending.append(self._executor.submit(_analyze_batch, batch))
            if len(pending) >= self.in_flight:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "AnalysisPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
