"""`repo-server check` finds every way catalog and store can disagree."""

from __future__ import annotations

import os

from repo_server.services.consistency import check_consistency
from repo_server.services.resources import ingest


def test_clean_library_is_ok(services, world, stage) -> None:
    ingest(services, world.school_editor, stage(b"%PDF-1.4 a"), "a.pdf", {})
    report = check_consistency(services, deep=True)
    assert report.ok and (report.resources, report.blobs) == (1, 1)


def test_missing_orphan_and_corrupt_blobs_are_found(services, world, stage) -> None:
    a = ingest(services, world.school_editor, stage(b"%PDF-1.4 aaaa"), "a.pdf", {})
    b = ingest(services, world.school_editor, stage(b"%PDF-1.4 bbbb"), "b.pdf", {})
    path_a = services.blobs.local_path(a["sha256"])
    path_a.unlink()
    path_b = services.blobs.local_path(b["sha256"])
    os.chmod(path_b, 0o644)
    path_b.write_bytes(b"%PDF-1.4 bbbX")  # same size, different bytes: bit rot
    orphan = services.staging.new()
    orphan.write(b"%PDF-1.4 nobody knows me")
    services.blobs.add(orphan)
    report = check_consistency(services)
    assert report.missing == [a["sha256"]] and len(report.orphans) == 1 and not report.ok
    assert report.corrupt == []  # only a deep check reads contents
    assert check_consistency(services, deep=True).corrupt == [b["sha256"]]
