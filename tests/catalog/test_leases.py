"""Catalog leases (catalog/leases.py), on SQLite and on PostgreSQL: one holder at a time, in
one process and across processes, and a lease never outlives its holder — a killed process
or (PostgreSQL) a terminated session frees it for the next one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import text

from repo_server.catalog import Catalog
from repo_server.catalog.leases import PostgresLease, lease_key, try_lease
from repo_server.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_S = 15.0

# A process that tries to take a lease, says whether it got it, then holds it until killed.
HOLDER = """
import sys, time
from repo_server.catalog import Catalog
from repo_server.catalog.leases import try_lease
lease = try_lease(Catalog(sys.argv[1]), sys.argv[2])
print("held" if lease is not None else "busy", flush=True)
time.sleep(300)
"""


@pytest.fixture
def catalogs(settings: Settings) -> Iterator[list[Catalog]]:
    """Two Catalog objects (two engines, as two processes have) on the test's catalog."""
    made = [Catalog(settings.catalog_url), Catalog(settings.catalog_url)]
    yield made
    for catalog in made:
        catalog.dispose()


@pytest.fixture
def holders() -> Iterator[list[subprocess.Popen]]:
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def _start_holder(holders: list[subprocess.Popen], url: str, name: str) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", HOLDER, url, name], cwd=ROOT, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    holders.append(process)
    return process


def _answer(process: subprocess.Popen) -> str:
    line = process.stdout.readline().strip()   # the script prints one line, then sleeps
    assert line in ("held", "busy"), f"the holder process failed: {line!r} {process.stderr.read()}"
    return line


def _acquire_within(catalog: Catalog, name: str, deadline_s: float = DEADLINE_S):
    deadline = time.monotonic() + deadline_s
    while (lease := try_lease(catalog, name)) is None:
        assert time.monotonic() < deadline, f"the lease {name!r} was not freed within {deadline_s} s"
        time.sleep(0.1)
    return lease


def test_one_holder_at_a_time_and_release_hands_it_on(catalogs) -> None:
    first, second = catalogs
    lease = try_lease(first, "extract")
    assert lease is not None and lease.held()
    assert try_lease(second, "extract") is None
    assert try_lease(first, "extract") is None, "a second session of the same process is another holder"
    other = try_lease(second, "mirror-publish")   # other names are independent
    assert other is not None
    lease.release()
    lease.release()                               # idempotent
    assert not lease.held()
    taken = try_lease(second, "extract")
    assert taken is not None and taken.held()
    taken.release()
    other.release()


def test_of_several_processes_racing_exactly_one_holds_it_and_its_death_frees_it(
        settings: Settings, catalogs, holders) -> None:
    url = settings.catalog_url
    racing = [_start_holder(holders, url, "extract") for _ in range(3)]
    answers = [_answer(process) for process in racing]
    assert sorted(answers) == ["busy", "busy", "held"], answers
    holder = racing[answers.index("held")]
    assert try_lease(catalogs[0], "extract") is None
    os.kill(holder.pid, signal.SIGKILL)             # no release, no atexit: the OS closes its socket/file
    holder.wait(10)
    lease = _acquire_within(catalogs[0], "extract")
    assert lease.held()
    lease.release()


@pytest.mark.parametrize("settings", ["postgresql"], indirect=True)
def test_a_terminated_session_loses_the_lease_and_its_holder_notices(settings: Settings, catalogs) -> None:
    first, second = catalogs
    lease = try_lease(first, "extract")
    assert isinstance(lease, PostgresLease)
    with second.engine.connect() as conn:
        # The lease's own session is findable by operators under its application_name.
        pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND application_name = 'repo-server lease extract'")).scalars().all()
        assert len(pids) == 1, pids
        locks = conn.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                  "AND pid = :pid AND granted"), {"pid": pids[0]}).scalar()
        assert locks == 1
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pids[0]})
    taken = _acquire_within(second, "extract")
    assert not lease.held(), "the holder must notice that its session (and lock) is gone"
    assert taken.held()
    lease.release()                                 # harmless after the loss
    assert taken.held(), "releasing a lost lease must not touch the new holder's"
    taken.release()


def test_names_are_checked_and_keys_are_stable() -> None:
    with pytest.raises(ValueError, match="lease name"):
        try_lease(Catalog("sqlite://"), "Extract Texts")
    with pytest.raises(ValueError, match="in-memory"):
        try_lease(Catalog("sqlite://"), "extract")
    # The key is part of the protocol between versions running side by side in a cluster.
    # A changed key would let an old and a new version extract side by side during an upgrade.
    assert lease_key("extract") == -3410567979369405424
    assert lease_key("mirror-publish") != lease_key("extract")
