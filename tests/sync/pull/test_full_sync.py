"""Full, incremental and selective syncs, deletions and privacy reaching the mirror, from a
local path (a USB disk) and from a real rsync daemon on 127.0.0.1."""

from __future__ import annotations

import pytest

from repo_server.catalog.models import BlobText
from repo_server.services.resources import delete_resource, update_resource
from repo_server.sync import publish

from .conftest import repo_sync, status, trace

pytestmark = [pytest.mark.parametrize("settings", ["sqlite"], indirect=True),
              pytest.mark.parametrize("services", ["local"], indirect=True)]


def test_full_then_incremental_then_up_to_date_from_a_local_path(services, library, schools) -> None:
    first, second = library.pdf("第1课.pdf"), library.pdf("第2课.pdf", subject="语文")
    publish(services)
    school = schools()
    run = repo_sync(school.data_dir, services.settings.mirror_dir)
    assert run.returncode == 0, run.stderr + run.stdout
    live = school.live()
    assert set(live) == {first["id"], second["id"]}
    assert live[first["id"]].title == first["title"] and live[first["id"]].subject.code == "SX"
    assert live[first["id"]].created_at.isoformat() == first["created_at"].replace("Z", "+00:00")
    blobs = school.open().blobs
    assert blobs.exists(live[first["id"]].blob_sha256)
    done = status(school.data_dir)
    assert done["result"] == "ok" and done["serial"] == done["upstream_serial"] == 1 and done["error"] is None
    assert done["chain"][-1] == "school" and done["last_attempt_at"].endswith("Z")
    assert (school.data_dir / "sync" / "CURRENT").read_bytes() == (services.settings.mirror_dir / "CURRENT").read_bytes()
    assert "serial none → 1" in run.stdout

    again = repo_sync(school.data_dir, services.settings.mirror_dir)
    assert again.returncode == 0 and "up to date" in again.stdout
    assert status(school.data_dir)["result"] == "up_to_date"

    third = library.pdf("第3课.pdf")
    publish(services)
    school.close()
    step = repo_sync(school.data_dir, services.settings.mirror_dir)
    assert step.returncode == 0, step.stderr
    assert trace(school.data_dir)[-1]["manifest_from"] == "delta"
    assert trace(school.data_dir)[-1]["objects"] == 1     # only the new file travelled
    assert set(school.live()) == {first["id"], second["id"], third["id"]}


def test_deletions_privacy_and_edits_reach_the_mirror(services, world, library, schools) -> None:
    kept, gone, hidden = library.pdf("甲.pdf"), library.pdf("乙.pdf"), library.pdf("丙.pdf")
    publish(services)
    school = schools()
    assert repo_sync(school.data_dir, services.settings.mirror_dir).returncode == 0
    update_resource(services, world.school_editor, kept["id"], {"title": "甲（修订）", "tags": ["复习"]})
    delete_resource(services, world.school_editor, gone["id"])
    update_resource(services, world.school_editor, hidden["id"], {"visibility": "private"})
    publish(services)
    run = repo_sync(school.data_dir, services.settings.mirror_dir)
    assert run.returncode == 0, run.stderr
    live = school.live()
    assert set(live) == {kept["id"]}
    assert live[kept["id"]].title == "甲（修订）" and live[kept["id"]].tags == ["复习"]
    assert "2 removed" in run.stdout


def test_selective_sync_by_subject_alias_and_renditions(services, library, schools) -> None:
    maths, chinese = library.pdf("数学.pdf"), library.pdf("语文.pdf", subject="语文")
    publish(services)
    school = schools()
    run = repo_sync(school.data_dir, services.settings.mirror_dir, "--only", "subject=数学", "--renditions", "360p")
    assert run.returncode == 0, run.stderr
    assert set(school.live()) == {maths["id"]}
    # The same school widens its subscription: chinese arrives without re-fetching maths.
    school.close()
    wider = repo_sync(school.data_dir, services.settings.mirror_dir, "--only", "subject=SX", "--only", "subject=YW")
    assert wider.returncode == 0, wider.stderr
    assert set(school.live()) == {maths["id"], chinese["id"]}
    assert trace(school.data_dir)[-1]["objects"] == 1
    # …and narrows it again: chinese leaves the mirror.
    school.close()
    assert repo_sync(school.data_dir, services.settings.mirror_dir, "--only", "subject=数学").returncode == 0
    assert set(school.live()) == {maths["id"]}


def test_a_bad_only_is_a_configuration_error(services, library, schools) -> None:
    library.pdf()
    publish(services)
    school = schools()
    unknown = repo_sync(school.data_dir, services.settings.mirror_dir, "--only", "subject=炼金术")
    assert unknown.returncode == 78 and "炼金术" in unknown.stderr + unknown.stdout
    assert status(school.data_dir)["result"] == "config"
    malformed = repo_sync(school.data_dir, services.settings.mirror_dir, "--only", "colour=red")
    assert malformed.returncode == 78 and "FIELD" in malformed.stderr


def test_the_config_file_gives_upstream_and_subscription(services, library, schools) -> None:
    maths, _ = library.pdf("数学.pdf"), library.pdf("语文.pdf", subject="语文")
    publish(services)
    school = schools()
    school.data_dir.mkdir()
    (school.data_dir / "sync.toml").write_text(
        f'upstream = "{services.settings.mirror_dir}"\nonly = ["subject=数学"]\nrenditions = ["360p"]\n')
    run = repo_sync(school.data_dir, None)
    assert run.returncode == 0, run.stderr
    assert set(school.live()) == {maths["id"]}


def test_texts_travel_so_the_mirror_never_extracts(services, library, schools) -> None:
    doc, failed = library.pdf("讲义.pdf"), library.pdf("坏文件.pdf")
    with services.catalog.write() as session:
        session.add(BlobText(sha256=doc["sha256"], status="done", text="勾股定理 直角三角形的三边关系",
                             chars=15, extractor="pdfium"))
        session.add(BlobText(sha256=failed["sha256"], status="failed", message="encrypted", extractor="pdfium"))
    publish(services)
    school = schools()
    assert repo_sync(school.data_dir, services.settings.mirror_dir).returncode == 0
    with school.open().catalog.read() as session:
        text = session.get(BlobText, doc["sha256"])
        assert text is not None and text.status == "done" and text.text == "勾股定理 直角三角形的三边关系"
        bad = session.get(BlobText, failed["sha256"])
        assert bad.status == "failed" and bad.message == "encrypted"    # the school does not retry it
    # the text object was read into the catalog, not kept as a file
    assert not any((school.data_dir / "sync" / "incoming").rglob("texts/*"))
