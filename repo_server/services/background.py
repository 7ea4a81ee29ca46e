"""The background work of a process: the search index writer and the text extractor.

Every web worker (and `repo-server index run`) starts a BackgroundWork; each of its two
loops only works while its process holds the matching lock, and otherwise retries every few
seconds; another process takes over within seconds when the holder dies.

- **The index writer is one per node.** The search index is a local replica in this node's
  data dir, fed from the shared change log (docs/architecture.md), so its writer is elected
  among this node's processes by the live generation's `flock`; nodes never wait for each
  other. Changes become searchable within about a second: the writer polls the change log
  four times a second. An index written by an older schema is rebuilt beside the live one,
  which keeps answering until the swap; an empty index on a catalog with a history (a node
  added to a cluster, a lost data dir) is built in bulk the same way rather than by replaying
  the change log one batch at a time.
- **The text extractor is one per catalog.** Texts are stored in the catalog, once per blob,
  so the extractor is elected by a catalog lease (catalog/leases.py: an advisory lock on
  PostgreSQL, an flock beside a SQLite file): with several app nodes on one PostgreSQL
  catalog exactly one process of one node extracts.
"""

from __future__ import annotations

import logging
import threading
import time

from repo_server.catalog.changes import last_seq
from repo_server.ingest.extract.sandbox import ExtractionSandbox
from repo_server.catalog.leases import try_lease

from .context import Services
from .indexing import BULK_BUILD_CHANGES, catch_up, rebuild, refresh_downloads
from .search_tools import search_index
from .texts import extract_pending

__all__ = ["BackgroundWork", "EXTRACT_LEASE"]

log = logging.getLogger(__name__)

# The extractor's lease. With the default SQLite catalog its lock file is
# <data dir>/locks/extract.lock, where older versions kept their file lock, so a rolling
# upgrade never runs two extractors.
EXTRACT_LEASE = "extract"


class BackgroundWork:
    def __init__(self, svc: Services, *, poll_s: float = 0.25, retry_s: float = 5.0,
                 downloads_every_s: float = 60.0, rescan_s: float = 300.0, extract: bool = True) -> None:
        self.svc = svc
        self.rescan_s = rescan_s
        self.poll_s, self.retry_s, self.downloads_every_s = poll_s, retry_s, downloads_every_s
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._index_loop, name="repo-indexer", daemon=True)]
        if extract:
            self._threads.append(threading.Thread(target=self._extract_loop, name="repo-extractor",
                                                  daemon=True))

    def start(self) -> "BackgroundWork":
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def _sleep(self, seconds: float) -> bool:
        """Sleep; True when asked to stop."""
        return self._stop.wait(seconds)

    # -- the index writer -------------------------------------------------------------------
    def _index_loop(self) -> None:
        index, writer, downloads_at = search_index(self.svc), None, 0.0
        while not self._stop.is_set():
            try:
                if writer is not None and not writer.is_live:  # a rebuild swapped generations
                    writer.close()
                    writer = None
                    index.store.prune(keep=0)
                if writer is None:
                    writer = index.try_writer()
                    if writer is None:
                        self._sleep(self.retry_s)
                        continue
                    log.info("indexer: writing %s", writer.generation)
                if writer.outdated:  # written by an older version: rebuild, search keeps answering
                    log.warning("indexer: %s has an older index schema; rebuilding", writer.generation)
                    log.info("indexer: rebuilt %s", rebuild(self.svc))
                    continue  # the old writer is no longer live: the next round switches
                if writer.seq == 0 and (behind := self._last_seq()) > BULK_BUILD_CHANGES:
                    log.warning("indexer: empty index, %d changes in the catalog; building it in bulk", behind)
                    log.info("indexer: built %s", rebuild(self.svc))
                    continue
                catch_up(self.svc, writer)
                if time.monotonic() - downloads_at > self.downloads_every_s:
                    refresh_downloads(self.svc, writer)
                    downloads_at = time.monotonic()
            except Exception:  # keep the thread alive; the next round retries
                log.exception("indexer: update failed; retrying")
                self._sleep(self.retry_s)
            self._sleep(self.poll_s)
        if writer is not None:
            writer.close()

    # -- the text extractor -----------------------------------------------------------------
    def _last_seq(self) -> int:
        with self.svc.catalog.read() as session:
            return last_seq(session)

    def _extract_loop(self) -> None:
        """Extract texts of new blobs. Looking for them is a join over every live resource, so
        an idle loop only looks when the change log moved (an upload) or every `rescan_s`
        (texts forgotten by `repo-server index retry-failed` in another process); between
        those it reads the one-row change counter once a second."""
        lease, sandbox = None, None
        seen_seq, scanned_at = -1, 0.0
        while not self._stop.is_set():
            try:
                if lease is not None and not lease.held():  # its catalog session ended
                    log.warning("extractor: lost the %r lease; electing again", EXTRACT_LEASE)
                    lease, seen_seq = None, -1
                if lease is None:
                    lease = try_lease(self.svc.catalog, EXTRACT_LEASE)
                    if lease is None:
                        self._sleep(self.retry_s)
                        continue
                    log.info("extractor: elected (%s)", type(lease).__name__)
                    if sandbox is None:
                        sandbox = ExtractionSandbox(task_timeout_s=self.svc.settings.extract_timeout,
                                                    soffice=self.svc.settings.soffice)
                seq = self._last_seq()
                if seq == seen_seq and time.monotonic() - scanned_at < self.rescan_s:
                    self._sleep(1.0)  # nothing new: do not ask the catalog for pending texts
                    continue
                if extract_pending(self.svc, sandbox, limit=5) == 0:
                    seen_seq, scanned_at = seq, time.monotonic()
                    self._sleep(1.0)
            except Exception:
                log.exception("extractor: failed; retrying")
                self._sleep(self.retry_s)
        if sandbox is not None:
            sandbox.close()
        if lease is not None:
            lease.release()
