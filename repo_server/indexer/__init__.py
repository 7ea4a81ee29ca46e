"""Full-text search (issue 3): an engine-neutral SearchIndex protocol with Whoosh (default)
and Tantivy engines, Chinese analysis (rjieba, pinyin, vocabulary aliases), fed by the
catalog's change log by a single writer per index directory.

Nothing lives here yet: the foundation only guarantees what search will build on — the
change log (repo_server.catalog.changes) with a sequence in commit order, and resources
whose permissions are expressible as SQL (repo_server.services.permissions).
"""

__all__: list[str] = []
