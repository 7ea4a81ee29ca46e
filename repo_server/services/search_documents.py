"""From a catalog resource to a SearchDocument, in two halves.

`raw_document` gathers what a resource contributes to search as plain, picklable data (it
needs the catalog session); `analyze` segments it (CPU-heavy, no database), so a rebuild
can run analysis in worker processes (analysis_pool.py) while the main process reads the
catalog and writes the index.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

from repo_server.catalog.models import BlobText, Resource
from repo_server.catalog.vocab import VocabIndex
from repo_server.indexer import Analyzer, SearchDocument
from repo_server.ingest.formats import FAMILY_LABELS

from .fields import VOCAB_FIELDS

__all__ = ["RawDocument", "raw_document", "analyze", "search_document"]


def _tokens(analyzer: Analyzer, *texts: str) -> str:
    return " ".join(chain.from_iterable(analyzer.index_tokens(text) for text in texts if text))


@dataclass(frozen=True)
class RawDocument:
    """A resource's searchable facts as plain data, before analysis: picklable, so analysis
    can run in worker processes during a rebuild."""

    id: str
    title: str
    labels: tuple[str, ...]
    tags: tuple[str, ...]
    description: str
    body: str
    facets: dict[str, str]
    visibility: str
    status: str
    org_id: str
    owner_id: str
    org_path: tuple[str, ...]
    created: int
    downloads: int


def raw_document(r: Resource, text: BlobText | None, vocab: VocabIndex) -> RawDocument:
    labels: list[str] = [r.chapter, r.lesson, r.creator, r.publisher,
                         FAMILY_LABELS.get(r.format, "").split("(")[-1].rstrip(")")]
    facets: dict[str, str] = {"format": r.format, "org": str(r.org_id) if r.org_id else ""}
    for name in VOCAB_FIELDS:
        term = vocab.by_id(getattr(r, f"{name}_id")) if getattr(r, f"{name}_id") else None
        facets[name] = term.code if term else ""
        if term:
            labels += [term.name, *(a.alias for a in term.aliases)]
    return RawDocument(
        id=r.id, title=r.title, labels=tuple(labels), tags=tuple(r.tags),
        description=r.description, body=text.text if text is not None and text.status == "done" else "",
        facets=facets, visibility=r.visibility, status=r.status,
        org_id=str(r.org_id) if r.org_id else "", owner_id=str(r.owner_id) if r.owner_id else "",
        org_path=tuple(str(i) for i in r.org.ancestor_ids) if r.org else (),
        created=int(r.created_at.timestamp()), downloads=r.download_count)


def analyze(raw: RawDocument, analyzer: Analyzer) -> SearchDocument:
    """Segment the text of a RawDocument: the CPU-heavy half of indexing."""
    pinyin, sounds = analyzer.pinyin_tokens(raw.title)
    return SearchDocument(
        id=raw.id, title=_tokens(analyzer, raw.title), labels=_tokens(analyzer, *raw.labels),
        tags=_tokens(analyzer, *raw.tags), description=_tokens(analyzer, raw.description),
        body=_tokens(analyzer, raw.body), pinyin=" ".join(pinyin), sounds=" ".join(sounds),
        facets=raw.facets, visibility=raw.visibility, status=raw.status, org_id=raw.org_id,
        owner_id=raw.owner_id, org_path=raw.org_path, created=raw.created, downloads=raw.downloads)


def search_document(r: Resource, text: BlobText | None, vocab: VocabIndex,
                    analyzer: Analyzer) -> SearchDocument:
    """What the index needs to know about one resource."""
    return analyze(raw_document(r, text, vocab), analyzer)
