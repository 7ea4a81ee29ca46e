"""Answers kept until the catalog changes: counts and listings that cost a GROUP BY or a sort
over tens of thousands of rows, asked on every visit to the home and catalog pages.

The key always includes the catalog's change sequence (one row to read), so any create,
update, delete or visibility change makes the next visit compute afresh; stale entries
simply age out of a small least-recently-used table kept per process in `svc.cache`.
Callers get a deep copy: a template that edits its data cannot damage the kept answer.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable, TypeVar

from .context import Services

__all__ = ["remembered"]

T = TypeVar("T")

_LOCK = threading.Lock()      # gunicorn threads share svc.cache: LRU moves are not atomic


def remembered(svc: Services, table: str, key: Hashable, compute: Callable[[], T], *, size: int = 256) -> T:
    """`compute()`'s answer for `key`, computed once per key while `size` newer keys have not
    pushed it out. Two threads missing the same key at once both compute it; the answers are
    equal, so the second simply replaces the first."""
    with _LOCK:
        entries: OrderedDict[Hashable, Any] = svc.cache.setdefault(f"memo:{table}", OrderedDict())
        if key in entries:
            entries.move_to_end(key)
            return copy.deepcopy(entries[key])
    value = compute()
    with _LOCK:
        entries[key] = copy.deepcopy(value)
        while len(entries) > size:
            entries.popitem(last=False)
    return value
