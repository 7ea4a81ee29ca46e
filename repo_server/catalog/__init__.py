"""The catalog: what the library holds, who may see it, and what changed when.

SQLAlchemy 2 models (models.py), Alembic migrations (migrate.py), the change log
(changes.py) and the controlled vocabularies (vocab.py). SQLite by default, PostgreSQL
when configured; the same code and the same tests run on both.
"""

from .db import Catalog

__all__ = ["Catalog"]
