"""Full-text search for a Chinese K-12 library: engine-neutral and fed by the change log.

- analysis.py   Chinese analysis shared by every engine (rjieba, t2s folding, pinyin)
- schema.py     the search document and fields, declared once
- query.py      engine-neutral queries and results; parse.py builds them from user text
- engine.py     the Engine protocol; whoosh_engine.py (default), tantivy_engine.py (1M items)
- store.py      generations on disk, the CURRENT pointer, one writer per directory
- index.py      SearchIndex: search, status, the single writer, rebuild generations
- highlight.py  snippets from the original text, the same for every engine

Nothing here knows the catalog: repo_server.services.indexing turns resources into
SearchDocuments and feeds them in change-log order.
"""

from .analysis import Analyzer
from .highlight import Highlighter
from .index import IndexWriter, SearchIndex
from .parse import MAX_QUERY_CHARS, Synonyms, build_text_query, clean_query, fold
from .query import AccessFilter, Hit, SearchRequest, SearchResult, TextQuery
from .schema import FACET_FIELDS, SORTS, SearchDocument

__all__ = ["Analyzer", "Highlighter", "IndexWriter", "SearchIndex", "MAX_QUERY_CHARS", "Synonyms",
           "build_text_query", "clean_query", "fold", "AccessFilter", "Hit", "SearchRequest", "SearchResult",
           "TextQuery", "FACET_FIELDS", "SORTS", "SearchDocument"]
