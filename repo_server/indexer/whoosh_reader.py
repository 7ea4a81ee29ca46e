"""WhooshReader: searching a Whoosh index fast enough for ~100,000 items.

Whoosh is pure Python, and its matchers walk posting lists one document at a time: at
100,000 items a broad query (八年级 数学 人教版) took seconds, in its filters, facet grouping,
matching and scoring alike (measured: p50 1.3 s). So Whoosh stays the index format — segments,
posting lists, stored fields, columns — and this reader does the query work with set
algebra and arithmetic over cached postings:

- per *segment*, cached by segment id (segments are immutable but for deletions, which are
  subtracted at query time, so an update never invalidates a large segment's cache):
  postings as sorted arrays of docnums and term frequencies (8 bytes a posting, so the
  working set of a 100,000-item library stays cached: a dict entry took ~74 bytes, and with
  the old 2,000,000-entry budget the benchmark's query mix evicted its own postings every
  round), facet columns, field lengths, allowed-document sets; postings share one global
  budget (least recently used go first);
- matching: the TextQuery evaluated as unions and intersections of posting key sets;
- scoring: BM25 for the matched documents only, with tantivy's formulas (idf
  ln(1 + (N − n + 0.5)/(n + 0.5)), k1 = 1.2, b = 0.75, the same field boosts and the same
  0.1 tie-break across fields), so both engines rank alike; computed with numpy over whole
  posting lists (a word in half the library is tens of thousands of documents: scoring them
  one by one in Python was most of a query's time);
- totals, facet counts (numpy bincounts over per-segment value codes), field sorting (a
  cached per-segment order walked until the page is full): from the matched set.
"""

from __future__ import annotations

import heapq
import math
import threading
from array import array
from bisect import bisect_left
from collections import Counter, OrderedDict

import numpy as np
from whoosh import index

from .query import AccessFilter, Hit, SearchRequest, SearchResult, TextQuery
from .schema import PINYIN_BOOST, PINYIN_FIELD, TEXT_BOOSTS

__all__ = ["WhooshReader"]

_POSTINGS_BUDGET = 20_000_000     # cached postings across all segments (~160 MB at most)
_ALLOWED_PER_SEGMENT = 256
_K1, _B, _TIE = 1.2, 0.75, 0.1
_GROUPS = {"text": tuple(TEXT_BOOSTS.items()), "pinyin": ((PINYIN_FIELD, PINYIN_BOOST),)}
_COUNT_BY_VALUE = 256     # matched documents (per segment) from which facets are counted with numpy
_PROBE_RATIO = 16   # candidates × this < postings: look each candidate up instead of scanning
_WALK_RATIO = 8     # matches × this ≥ segment size: walk the sorted order instead of sorting them


class _Posting:
    """One term's postings in one segment: ascending docnums and their term frequencies."""

    __slots__ = ("docs", "tfs")

    def __init__(self, docs: array, tfs: array) -> None:
        self.docs, self.tfs = docs, tfs

    def __len__(self) -> int:
        return len(self.docs)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The same postings as numpy arrays (views of the same memory, no copy)."""
        return np.frombuffer(self.docs, dtype=np.intc), np.frombuffer(self.tfs, dtype=np.uintc)

    def tf(self, doc: int) -> int | None:
        i = bisect_left(self.docs, doc)
        return self.tfs[i] if i < len(self.docs) and self.docs[i] == doc else None

    def common(self, candidates: set[int]) -> set[int]:
        """The candidates in this posting list: binary search for a few, a scan in C for many."""
        if len(candidates) * _PROBE_RATIO < len(self.docs):
            return {d for d in candidates if self.tf(d) is not None}
        return candidates.intersection(self.docs)


_EMPTY = _Posting(array("i"), array("I"))


def _meet(docs: np.ndarray, posting_docs: np.ndarray, posting_tfs: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The documents of sorted `docs` found in a posting list: (their positions in `docs`,
    their term frequencies, their docnums). Binary search from the shorter side."""
    if not len(docs) or not len(posting_docs):
        empty = np.zeros(0, dtype=np.intp)
        return empty, np.zeros(0), empty
    if len(docs) * _PROBE_RATIO < len(posting_docs):   # few candidates, long postings
        at = np.minimum(np.searchsorted(posting_docs, docs), len(posting_docs) - 1)
        hit = posting_docs[at] == docs
        where = np.flatnonzero(hit)
        return where, posting_tfs[at[hit]].astype(np.float64), docs[hit]
    at = np.minimum(np.searchsorted(docs, posting_docs), len(docs) - 1)
    hit = docs[at] == posting_docs
    return at[hit], posting_tfs[hit].astype(np.float64), posting_docs[hit]


class _Postings:
    """Cached posting lists of all segments, within one budget (LRU)."""

    def __init__(self, budget: int) -> None:
        self._budget, self._size = budget, 0
        self._entries: OrderedDict[tuple[str, str, str], _Posting] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, segment_id: str, reader, field: str, term: str) -> _Posting:
        key = (segment_id, field, term)
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
        if (field, term) not in reader:
            postings = _EMPTY
        else:
            matcher = reader.postings(field, term)
            if reader.schema[field].scorable:
                pairs = list(matcher.items_as("frequency"))
                postings = _Posting(array("i", [d for d, _ in pairs]), array("I", [tf for _, tf in pairs]))
            else:
                docs = array("i", matcher.all_ids())
                postings = _Posting(docs, array("I", [1]) * len(docs))
        with self._lock:
            self._entries[key] = postings
            self._size += len(postings)
            while self._size > self._budget and len(self._entries) > 1:
                _, evicted = self._entries.popitem(last=False)
                self._size -= len(evicted)
        return postings

    def forget(self, segment_ids: set[str]) -> None:
        with self._lock:
            for key in [k for k in self._entries if k[0] in segment_ids]:
                self._size -= len(self._entries.pop(key))


class _Segment:
    """One segment as seen by this reader: its id, caches and current deletions."""

    def __init__(self, segment_id: str) -> None:
        self.id = segment_id
        self.columns: dict[str, list] = {}
        self.codes: dict[str, tuple[list, np.ndarray]] = {}   # field → (values, value index per doc)
        self.lengths: dict[str, np.ndarray] = {}
        self.orders: dict[str, array] = {}     # field → local docnums, largest value first
        self.allowed: OrderedDict[tuple, frozenset[int] | None] = OrderedDict()
        self.lock = threading.Lock()


class WhooshReader:
    def __init__(self, ix: index.Index) -> None:
        self._ix = ix
        self._local = threading.local()
        self._segments: dict[str, _Segment] = {}
        self._segments_lock = threading.Lock()
        self._postings = _Postings(_POSTINGS_BUDGET)
        self.count_by_value = _COUNT_BY_VALUE

    # -- searchers and segments ---------------------------------------------------------------
    def _searcher(self):
        searcher = getattr(self._local, "searcher", None)
        if searcher is None:
            searcher = self._local.searcher = self._ix.searcher()
        elif not searcher.up_to_date():
            # A new searcher, not searcher.refresh(): refresh reuses the segment readers of
            # segments whose id did not change, *with their old deletion sets*, so a document
            # updated or withdrawn since would still match in its old form (found as a
            # private item shown to another school). Opening segments is cheap; this
            # reader's own caches are kept per segment id and survive.
            searcher.close()
            searcher = self._local.searcher = self._ix.searcher()
        return searcher

    def _leaves(self, searcher) -> list[tuple[object, int, _Segment, frozenset[int]]]:
        """(leaf reader, doc offset, segment, deleted local docnums) for each segment."""
        leaves, live = [], set()
        with self._segments_lock:
            for leaf, offset in searcher.leaf_searchers():
                reader = leaf.reader()
                segment = reader.segment()
                if segment is None:  # an empty index
                    continue
                live.add(segment.segment_id())
                seg = self._segments.setdefault(segment.segment_id(), _Segment(segment.segment_id()))
                deleted = reader.deleted_docs_set if reader.has_deletions() else frozenset()
                leaves.append((reader, offset, seg, deleted))
            gone = set(self._segments) - live  # merged away
            for segment_id in gone:
                del self._segments[segment_id]
        if gone:
            self._postings.forget(gone)
        return leaves

    # -- per-segment data ---------------------------------------------------------------------
    def _docs(self, reader, seg: _Segment, field: str, term: str) -> _Posting:
        return self._postings.get(seg.id, reader, field, term)

    def _allowed(self, reader, seg: _Segment, access: AccessFilter,
                 filters: tuple[tuple[str, tuple[str, ...]], ...]) -> frozenset[int] | None:
        """Local docnums the request may see (before deletions); None means all of them."""
        key = (access, filters)
        with seg.lock:
            if key in seg.allowed:
                return seg.allowed[key]
        docs = lambda f, t: set(self._docs(reader, seg, f, t).docs)  # noqa: E731
        allowed: set[int] | None = None
        if not access.admin:
            published, allowed = docs("status", "published"), set()
            if access.public:
                allowed |= published & docs("visibility", "public")
            if access.org_ids:
                orgs = set().union(*(docs("org_id", o) for o in access.org_ids))
                allowed |= published & docs("visibility", "organisation") & orgs
            if access.owner_id:
                allowed |= docs("owner_id", access.owner_id)
            if access.managed_org_id:
                allowed |= docs("org_path", access.managed_org_id)
        for field, values in filters:
            chosen = set().union(*(docs(field, v) for v in values))
            allowed = chosen if allowed is None else allowed & chosen
        result = frozenset(allowed) if allowed is not None else None
        with seg.lock:
            seg.allowed[key] = result
            if len(seg.allowed) > _ALLOWED_PER_SEGMENT:
                seg.allowed.popitem(last=False)
        return result

    @staticmethod
    def _column(reader, seg: _Segment, field: str) -> list:
        with seg.lock:
            values = seg.columns.get(field)
        if values is None:
            values = list(reader.column_reader(field))
            with seg.lock:
                seg.columns[field] = values
        return values

    def _count(self, reader, seg: _Segment, field: str, docs: set[int], counts: Counter,
               arrays: dict[int, tuple[set[int], np.ndarray]]) -> None:
        """Add the facet values of `docs` to `counts`. Few documents: a look-up per document;
        many: one bincount over the segment's value codes (`arrays` keeps each set's numpy
        form for the request, since most facets count the same set)."""
        if len(docs) < self.count_by_value:
            column = self._column(reader, seg, field)
            counts.update(column[d] for d in docs)
            return
        with seg.lock:
            coded = seg.codes.get(field)
        if coded is None:
            column = self._column(reader, seg, field)
            values = list(dict.fromkeys(column))
            index_of = {value: i for i, value in enumerate(values)}
            coded = (values, np.fromiter((index_of[v] for v in column), dtype=np.intp, count=len(column)))
            with seg.lock:
                seg.codes[field] = coded
        values, codes = coded
        if id(docs) not in arrays:  # the entry keeps `docs` alive, so its id is not reused
            arrays[id(docs)] = (docs, np.fromiter(docs, dtype=np.intp, count=len(docs)))
        for i, n in enumerate(np.bincount(codes[arrays[id(docs)][1]], minlength=len(values)).tolist()):
            if n:
                counts[values[i]] += n

    @staticmethod
    def _lengths(reader, seg: _Segment, field: str) -> np.ndarray:
        with seg.lock:
            values = seg.lengths.get(field)
        if values is None:
            values = np.fromiter((reader.doc_field_length(d, field, 0) for d in range(reader.doc_count_all())),
                                 dtype=np.float64, count=reader.doc_count_all())
            with seg.lock:
                seg.lengths[field] = values
        return values

    # -- matching -------------------------------------------------------------------------------
    def _token_postings(self, reader, seg: _Segment, group: str, token: str) -> list[_Posting]:
        return [p for p in (self._docs(reader, seg, f, token) for f, _ in _GROUPS[group]) if p]

    def _clause_set(self, reader, seg: _Segment, clause) -> set[int]:
        docs: set[int] = set()
        for alternative in clause:
            alt: set[int] | None = None
            for group, token in alternative:
                token_docs = set().union(*(p.docs for p in self._token_postings(reader, seg, group, token)))
                alt = token_docs if alt is None else alt & token_docs
                if not alt:
                    break
            docs |= alt or set()
        return docs

    def _clause_holds(self, reader, seg: _Segment, clause, candidates: set[int]) -> set[int]:
        """The candidates a clause matches: intersections with each posting list, done in C
        over the smaller side, so large postings (语文 in every 语文 resource) cost little."""
        kept: set[int] = set()
        for alternative in clause:
            alt = candidates
            for group, token in alternative:
                hit: set[int] = set()
                for postings in self._token_postings(reader, seg, group, token):
                    hit |= postings.common(alt)
                alt = hit
                if not alt:
                    break
            kept |= alt
        return kept

    def _match(self, reader, seg: _Segment, text: TextQuery) -> set[int]:
        if not text.match_all_clauses:
            return set().union(*(self._clause_set(reader, seg, c) for c in text.clauses))

        def size(clause) -> int:  # an upper bound on how many documents the clause matches
            return sum(len(p) for alt in clause for g, t in alt[:1]
                       for p in self._token_postings(reader, seg, g, t))

        ordered = sorted(text.clauses, key=size)
        matched = self._clause_set(reader, seg, ordered[0])
        for clause in ordered[1:]:
            if not matched:
                break
            matched = self._clause_holds(reader, seg, clause, matched)
        return matched

    # -- scoring ---------------------------------------------------------------------------------
    def _scores(self, searcher, leaves, per_leaf, text: TextQuery) -> tuple[np.ndarray, np.ndarray]:
        """(global docnums, BM25 scores with tantivy's formulas) of the matched documents,
        computed with numpy over whole posting lists: a word matching half the library is
        tens of thousands of documents, too many to score one by one in Python."""
        total_docs = max(searcher.doc_count(), 1)
        stats: dict[tuple[str, str], float] = {}
        average: dict[str, float] = {}

        def idf(field: str, token: str) -> float:
            key = (field, token)
            if key not in stats:
                n = searcher.doc_frequency(field, token)
                stats[key] = math.log(1 + (total_docs - n + 0.5) / (n + 0.5))
            return stats[key]

        def avgdl(field: str) -> float:
            if field not in average:
                average[field] = max(searcher.field_length(field) / total_docs, 1e-9)
            return average[field]

        all_docs, all_scores = [], []
        for (reader, offset, seg, _), local in zip(leaves, per_leaf, strict=True):
            if not local:
                continue
            docs = np.fromiter(local, dtype=np.intp, count=len(local))
            docs.sort()
            token_scores: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
            total = np.zeros(len(docs))
            for clause in text.clauses:
                for alternative in clause:
                    summed, present = np.zeros(len(docs)), np.ones(len(docs), dtype=bool)
                    for group, token in alternative:
                        if (group, token) not in token_scores:
                            token_scores[(group, token)] = self._token_scores(
                                reader, seg, group, token, docs, idf, avgdl)
                        score, found = token_scores[(group, token)]
                        summed += score
                        present &= found
                    total += np.where(present, summed, 0.0)   # an alternative counts when all its tokens match
            all_docs.append(docs + offset)
            all_scores.append(total)
        if not all_docs:
            return np.zeros(0, dtype=np.intp), np.zeros(0)
        return np.concatenate(all_docs), np.concatenate(all_scores)

    def _token_scores(self, reader, seg: _Segment, group: str, token: str, docs: np.ndarray,
                      idf, avgdl) -> tuple[np.ndarray, np.ndarray]:
        """Per document of `docs` (sorted local docnums): the best field's BM25 plus 0.1 × the
        other fields' (disjunction max), and whether any field holds the token."""
        best, summed = np.zeros(len(docs)), np.zeros(len(docs))
        found = np.zeros(len(docs), dtype=bool)
        for field, boost in _GROUPS[group]:
            postings = self._docs(reader, seg, field, token)
            if not postings:
                continue
            where, tfs, doc_ids = _meet(docs, *postings.arrays())
            if not len(where):
                continue
            lengths = self._lengths(reader, seg, field)[doc_ids]
            scale, base, per_token = boost * idf(field, token) * (_K1 + 1), _K1 * (1 - _B), _K1 * _B / avgdl(field)
            score = scale * tfs / (tfs + base + per_token * lengths)
            summed[where] += score
            best[where] = np.maximum(best[where], score)
            found[where] = True
        return best + _TIE * (summed - best), found

    # -- searching ---------------------------------------------------------------------------------
    def search(self, request: SearchRequest) -> SearchResult:
        searcher = self._searcher()
        leaves = self._leaves(searcher)
        filters = tuple(sorted((f, tuple(sorted(v))) for f, v in request.filters.items() if v))
        disjunctive = {f for f, _ in filters if f in request.facets} if request.disjunctive else set()
        counts = {name: Counter() for name in request.facets}
        per_leaf: list[set[int]] = []
        for reader, _, seg, deleted in leaves:
            # what the text and permissions allow; each filter narrows it further
            visible = self._visible(reader, seg, request, deleted)
            chosen = {f: self._allowed(reader, seg, AccessFilter(admin=True), ((f, v),)) for f, v in filters}
            local = visible
            for f in chosen.values():
                local = local & f if f is not None else local
            arrays: dict[int, tuple[set[int], np.ndarray]] = {}
            for name in request.facets:
                docs = local
                if name in disjunctive:  # this facet's counts ignore its own filter
                    docs = visible
                    for other, f in chosen.items():
                        if other != name and f is not None:
                            docs = docs & f
                self._count(reader, seg, name, docs, counts[name], arrays)
            per_leaf.append(local)
        total = sum(len(local) for local in per_leaf)
        wanted = request.offset + request.limit
        top: list[tuple[int, float]] = []
        if wanted and total:
            top = self._top(searcher, leaves, per_leaf, request, wanted)[request.offset:]
        hits = [Hit(searcher.stored_fields(d)["id"], score) for d, score in top]
        facets = {name: {value: n for value, n in c.items() if value} for name, c in counts.items()}
        return SearchResult(total=total, hits=hits, facets=facets)

    def _visible(self, reader, seg: _Segment, request: SearchRequest, deleted) -> set[int]:
        """Local docnums matching the text that the asker may see, deletions removed."""
        allowed = self._allowed(reader, seg, request.access, ())
        if request.text is not None:
            local = self._match(reader, seg, request.text)
            if allowed is not None:
                local &= allowed
        else:
            local = set(allowed) if allowed is not None else set(range(reader.doc_count_all()))
        return local - deleted if deleted else local

    def _top(self, searcher, leaves, per_leaf, request: SearchRequest, wanted: int) -> list[tuple[int, float]]:
        """(global docnum, score) of the first `wanted` results; ties go to the lower docnum."""
        field = {"newest": "created", "downloads": "downloads"}.get(request.sort)
        if field is None and request.text is not None:
            docs, scores = self._scores(searcher, leaves, per_leaf, request.text)
            if len(scores) > wanted:  # keep the `wanted` best, and any tied with the last of them
                kth = np.partition(scores, len(scores) - wanted)[len(scores) - wanted]
                docs, scores = docs[scores >= kth], scores[scores >= kth]
            order = np.lexsort((docs, -scores))[:wanted]   # best first; ties: lower docnum first
            return [(int(docs[i]), float(scores[i])) for i in order]
        if field is None:  # browsing by relevance: every score is equal, keep index order
            everything = sorted(d + offset for (_, offset, _, _), local in zip(leaves, per_leaf, strict=True)
                                for d in local)
            return [(d, 0.0) for d in everything[:wanted]]
        keyed = []
        for (reader, offset, seg, _), local in zip(leaves, per_leaf, strict=True):
            column = self._column(reader, seg, field)
            if len(local) * _WALK_RATIO >= len(column):
                # Many matches (browsing everything by date): the segment's documents in
                # value order, cached, walked until `wanted` matches; not a sort of them all.
                firsts = []
                for d in self._order(seg, field, column):
                    if d in local:
                        firsts.append(d)
                        if len(firsts) == wanted:
                            break
            else:
                firsts = local
            keyed += [(column[d], -(d + offset)) for d in firsts]
        return [(-negated, 0.0) for _, negated in heapq.nlargest(wanted, keyed)]

    @staticmethod
    def _order(seg: _Segment, field: str, column: list) -> array:
        """The segment's local docnums by `field`, largest first, ties by docnum (as `_top`)."""
        with seg.lock:
            order = seg.orders.get(field)
        if order is None:
            order = array("i", sorted(range(len(column)), key=lambda d: -column[d]))
            with seg.lock:
                seg.orders[field] = order
        return order

    # -- statistics ---------------------------------------------------------------------------------
    def doc_freq(self, field: str, token: str) -> int:
        return self._searcher().doc_frequency(field, token)

    def terms_with_prefix(self, field: str, prefix: str, limit: int) -> list[tuple[str, int]]:
        searcher = self._searcher()
        found = []
        for term in searcher.reader().expand_prefix(field, prefix):
            text = term.decode("utf-8") if isinstance(term, bytes) else term
            found.append((text, searcher.doc_frequency(field, text)))
            if len(found) >= 1000:  # bounded: prefixes here are specific ("gougu:")
                break
        found.sort(key=lambda item: (-item[1], item[0]))
        return found[:limit]

    def count(self) -> int:
        return self._searcher().doc_count()

    def refresh(self) -> None:
        self._searcher()

    def close(self) -> None:
        searcher = getattr(self._local, "searcher", None)
        if searcher is not None:
            searcher.close()
