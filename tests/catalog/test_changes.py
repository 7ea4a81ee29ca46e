"""The change log: one gap-free sequence whose order is commit order.

The indexer and the mirror publisher read "changes after seq N". If seq N+1 could become
visible before seq N commits, a consumer would skip N for ever; the counter row prevents it.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from repo_server.catalog.changes import changes_since, last_seq, record_change
from repo_server.catalog.models import Change


def test_sequence_starts_at_one_and_counts_up(services) -> None:
    with services.catalog.write() as session:
        assert record_change(session, "a" * 32, "create", None) == 1
        assert record_change(session, "a" * 32, "update", None) == 2
    with services.catalog.read() as session:
        assert [c.op for c in changes_since(session, 0)] == ["create", "update"]
        assert [c.seq for c in changes_since(session, 1)] == [2]
        assert last_seq(session) == 2


def test_unknown_op_is_refused(services) -> None:
    with services.catalog.write() as session:
        with pytest.raises(ValueError):
            record_change(session, "a" * 32, "rename", None)


def test_concurrent_writers_commit_in_sequence_order(services) -> None:
    """A reader polling while 12 writers race must only ever see a gap-free prefix 1..n."""
    writers, observed, stop = 12, [], threading.Event()

    def writer(i: int) -> None:
        with services.catalog.write() as session:
            record_change(session, f"{i:032d}", "create", None)
            time.sleep(0.01 * (i % 3))  # hold the transaction open for a while

    def reader() -> None:
        while not stop.is_set():
            with services.catalog.read() as session:
                observed.append(list(session.scalars(select(Change.seq).order_by(Change.seq))))

    poller = threading.Thread(target=reader)
    poller.start()
    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    poller.join()
    with services.catalog.read() as session:
        final = list(session.scalars(select(Change.seq).order_by(Change.seq)))
    assert final == list(range(1, writers + 1))
    for seen in observed:
        assert seen == list(range(1, len(seen) + 1)), f"a consumer saw a gap: {seen}"
