"""The per-process search helpers: analyzer, synonyms, highlighter, vocabulary snapshot, index.

The Analyzer is built once per process (its dictionary load costs ~0.2 s) and only ever
learns words; the vocabulary-derived parts (synonyms, names for facet values, words added
to the dictionary) are refreshed at most once a minute, so an administrator's new alias
reaches search without a restart.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Iterable

from repo_server.catalog.terms import SCHEMES
from repo_server.catalog.vocab import VocabIndex
from repo_server.indexer import Analyzer, Highlighter, SearchIndex, Synonyms

from .context import Services

__all__ = ["SearchTools", "search_tools", "search_index", "shared_analyzer", "learn_words", "vocabulary_groups", "REFRESH_S"]

REFRESH_S = 60.0
_lock = threading.Lock()
_analyzer: Analyzer | None = None
_known_words: set[str] = set()


def shared_analyzer() -> Analyzer:
    global _analyzer
    with _lock:
        if _analyzer is None:
            _analyzer = Analyzer()
        return _analyzer


@dataclass(frozen=True)
class SearchTools:
    analyzer: Analyzer
    synonyms: Synonyms
    highlighter: Highlighter
    vocab: VocabIndex
    loaded_at: float
    # scheme → {code: (position, name)}: the order and names facet counts are shown in
    facet_order: dict[str, dict[str, tuple[int, str]]]


def learn_words(words: Iterable[str]) -> Analyzer:
    """The shared analyzer, taught `words` (the vocabulary's names) it does not know yet."""
    analyzer = shared_analyzer()
    for name in words:
        if name not in _known_words:
            analyzer.add_word(name)
            _known_words.add(name)
    return analyzer


def vocabulary_groups(vocab: VocabIndex) -> list[list[str]]:
    """Each classifying term's name with its aliases: one synonym group per term."""
    return [[term.name, *(a.alias for a in term.aliases)]
            for scheme in ("stage", "grade", "subject", "edition", "volume", "type") for term in vocab.terms(scheme)]


def _load(svc: Services) -> SearchTools:
    with svc.catalog.read() as session:
        vocab = VocabIndex.load(session)
    groups = vocabulary_groups(vocab)
    analyzer = learn_words(name for names in groups for name in names)
    return SearchTools(analyzer=analyzer, synonyms=Synonyms(analyzer, groups),
                       highlighter=Highlighter(analyzer), vocab=vocab, loaded_at=time.monotonic(),
                       facet_order={scheme: {t.code: (t.position, t.name) for t in vocab.terms(scheme)}
                                    for scheme in SCHEMES})


def search_tools(svc: Services) -> SearchTools:
    tools = svc.cache.get("search_tools")
    if tools is None or time.monotonic() - tools.loaded_at > REFRESH_S:
        tools = svc.cache["search_tools"] = _load(svc)
    return tools


def search_index(svc: Services) -> SearchIndex:
    """This process's view of the configured engine's index (opened on first use)."""
    index = svc.cache.get("search_index")
    if index is None:
        index = svc.cache["search_index"] = SearchIndex(svc.settings.index_dir,
                                                        svc.settings.search_engine)
    return index
