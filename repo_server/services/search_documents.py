"""From a catalog resource to a SearchDocument, in two halves.

`raw_documents` gathers what a resource contributes to search as plain, picklable data (it
needs the catalog session); `analyze` segments it (CPU-heavy, no database), so a rebuild
can run analysis in worker processes (analysis_pool.py) while the main process reads the
catalog and writes the index.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from typing import Iterable, Mapping

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from repo_server.catalog.models import BlobText, Organisation, Resource, ResourceTag
from repo_server.catalog.vocab import VocabIndex
from repo_server.indexer import Analyzer, SearchDocument, fold
from repo_server.ingest.formats import FAMILY_LABELS

from .fields import VOCAB_FIELDS

__all__ = ["RawDocument", "raw_documents", "analyze"]


def _tokens(analyzer: Analyzer, folding: Mapping[str, str], *texts: str, once: bool = False) -> str:
    """Index tokens of `texts`, synonyms folded (see indexer.parse.Synonyms); `once` keeps the
    first of repeated tokens (a term's name and its aliases all fold into one)."""
    tokens = fold(chain.from_iterable(analyzer.index_tokens(text) for text in texts if text), folding)
    return " ".join(dict.fromkeys(tokens) if once else tokens)


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


# Plain columns, no ORM objects: a rebuild reads a million rows, and Resource's eager joins
# (blob, organisation, six vocabulary terms) would cost more than the analysis.
_COLUMNS = (Resource.id, Resource.title, Resource.description, Resource.creator,
            Resource.publisher, Resource.chapter, Resource.lesson, Resource.format,
            Resource.visibility, Resource.status, Resource.org_id, Resource.owner_id,
            Resource.created_at, Resource.download_count, Resource.deleted_at,
            *(getattr(Resource, f"{name}_id") for name in VOCAB_FIELDS),
            Organisation.path.label("org_path"), BlobText.text.label("body"),
            BlobText.status.label("text_status"))


def raw_documents(session: Session, ids: Iterable[str], vocab: VocabIndex) -> tuple[list[RawDocument], list[str]]:
    """RawDocuments for the live resources among `ids` (in the order given), and the ids to
    delete from the index (gone or deleted)."""
    ids = list(dict.fromkeys(ids))
    rows = {row.id: row for row in session.execute(
        select(*_COLUMNS).outerjoin(Organisation, Organisation.id == Resource.org_id)
        .outerjoin(BlobText, BlobText.sha256 == Resource.blob_sha256).where(Resource.id.in_(ids)))}
    tags: dict[str, list[str]] = {}
    for resource_id, tag in session.execute(select(ResourceTag.resource_id, ResourceTag.tag)
                                            .where(ResourceTag.resource_id.in_(ids))
                                            .order_by(ResourceTag.tag)):
        tags.setdefault(resource_id, []).append(tag)
    live = [i for i in ids if i in rows and rows[i].deleted_at is None]
    return ([_raw_document(rows[i], tags.get(i, ()), vocab) for i in live],
            [i for i in ids if i not in rows or rows[i].deleted_at is not None])


def _raw_document(row: Row, tags: Iterable[str], vocab: VocabIndex) -> RawDocument:
    labels: list[str] = [row.chapter, row.lesson, row.creator, row.publisher,
                         FAMILY_LABELS.get(row.format, "").split("(")[-1].rstrip(")")]
    facets: dict[str, str] = {"format": row.format, "org": str(row.org_id) if row.org_id else ""}
    for name in VOCAB_FIELDS:
        term_id = getattr(row, f"{name}_id")
        term = vocab.by_id(term_id) if term_id else None
        facets[name] = term.code if term else ""
        if term:
            labels += [term.name, *(a.alias for a in term.aliases)]
    return RawDocument(
        id=row.id, title=row.title, labels=tuple(labels), tags=tuple(tags),
        description=row.description, body=row.body if row.text_status == "done" else "",
        facets=facets, visibility=row.visibility, status=row.status,
        org_id=str(row.org_id) if row.org_id else "", owner_id=str(row.owner_id) if row.owner_id else "",
        org_path=tuple(p for p in (row.org_path or "").strip("/").split("/") if p),
        created=int(row.created_at.timestamp()), downloads=row.download_count)


def analyze(raw: RawDocument, analyzer: Analyzer, folding: Mapping[str, str]) -> SearchDocument:
    """Segment the text of a RawDocument (the CPU-heavy half of indexing), folding every form
    of a synonym group into its canonical form (`Synonyms.folding`)."""
    pinyin, sounds = analyzer.pinyin_tokens(raw.title)
    return SearchDocument(
        id=raw.id, title=_tokens(analyzer, folding, raw.title),
        labels=_tokens(analyzer, folding, *raw.labels, once=True),
        tags=_tokens(analyzer, folding, *raw.tags), description=_tokens(analyzer, folding, raw.description),
        body=_tokens(analyzer, folding, raw.body), pinyin=" ".join(pinyin), sounds=" ".join(sounds),
        facets=raw.facets, visibility=raw.visibility, status=raw.status, org_id=raw.org_id,
        owner_id=raw.owner_id, org_path=raw.org_path, created=raw.created, downloads=raw.downloads)
