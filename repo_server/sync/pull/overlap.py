"""Stage 2 prepared while stage 1 still transfers: a first sync's catalog and search index.

A first sync waits on the line for most of its time (10,000 resources at 20 Mbit/s: ~95 s
of transfer), and its stage 2 is CPU work that does not need the objects, only the manifest
and the texts: writing thousands of catalog rows and analysing every text for the index (~40
s). So, once the texts have arrived, a thread opens the catalog's write transaction, applies
every entry, builds a new index generation from that same uncommitted view, and waits for
stage 1. When stage 1 ends well it commits, then makes the index generation live — the
order of the sequential path, so a crash between the two leaves an index behind the catalog
that the next catch-up repairs. When stage 1 fails, it rolls back and deletes the
generation. Nobody sees any of it before the commit.

Used only when the local catalog holds no live resource (the caller checks): the open
transaction holds SQLite's write lock during the whole transfer, and a server already
answering teachers needs it for logins and download counts, whereas a first sync has no
teachers yet. Later syncs apply after stage 1, in a transaction of seconds.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, ContextManager, Protocol

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from .apply import ApplyReport

__all__ = ["PreparedIndex", "Stage2InBackground", "Stage2Result", "NICE"]

NICE = 10


class PreparedIndex(Protocol):
    """An index generation built from an uncommitted catalog view, not live yet."""

    def publish(self) -> str: ...      # make it live; a line for the trace

    def discard(self) -> None: ...


@dataclass
class Stage2Result:
    report: "ApplyReport"
    apply_s: float
    index: str | None = None
    index_s: float | None = None


class _Abandoned(Exception):
    """Stage 1 failed: roll the transaction back."""


class Stage2InBackground:
    """`write` opens the catalog transaction (committed on a normal exit, rolled back on an
    exception); `apply` writes the entries in it; `prepare_index` builds the index
    generation from it (None: the caller catches the index up after the commit)."""

    def __init__(self, write: Callable[[], ContextManager["Session"]], apply: Callable[["Session"], "ApplyReport"],
                 prepare_index: Callable[["Session"], PreparedIndex] | None) -> None:
        self._write, self._apply, self._prepare_index = write, apply, prepare_index
        self._decided = threading.Event()
        self._commit = False
        self._result: Stage2Result | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="repo-sync stage 2", daemon=True)

    def start(self) -> "Stage2InBackground":
        self._thread.start()
        return self

    def finish(self) -> Stage2Result:
        """Stage 1 ended well: commit, make the index live, and return what was done (or
        raise what went wrong in the thread)."""
        self._commit = True
        self._decided.set()
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def abandon(self) -> None:
        """Stage 1 failed: roll back, delete the index generation, wait until both are done."""
        self._decided.set()
        self._thread.join()

    def _work(self) -> None:
        prepared: PreparedIndex | None = None
        _yield_cpu()
        try:
            with self._write() as session:
                started = time.monotonic()
                report = self._apply(session)
                result = Stage2Result(report, apply_s=round(time.monotonic() - started, 3))
                if self._prepare_index is not None:
                    started = time.monotonic()
                    prepared = self._prepare_index(session)
                    result.index_s = round(time.monotonic() - started, 3)
                self._decided.wait()
                if not self._commit:
                    raise _Abandoned
            if prepared is not None:    # committed: the generation goes live
                started = time.monotonic()
                prepared, publishing = None, prepared
                result.index = publishing.publish()
                result.index_s = round((result.index_s or 0) + time.monotonic() - started, 3)
            self._result = result
        except _Abandoned:
            pass
        except BaseException as exc:    # handed to the main thread by finish()
            self._error = exc
        finally:
            if prepared is not None:
                prepared.discard()


def _yield_cpu() -> None:
    """Lower this thread's priority (nice 10; on Linux per thread, and inherited by the
    analysis processes it starts): stage 2 has the whole transfer to finish in, rsync and
    the verification must keep the line busy."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
    except (AttributeError, OSError):       # not Linux, or not permitted: equal priority
        pass
