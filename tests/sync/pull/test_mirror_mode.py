"""A synced data dir is served read-only: search, preview and download work from the local
copy alone; uploads, edits and admin writes are refused in one place (web/mirror_mode.py)."""

from __future__ import annotations

import pytest

from repo_server.app import create_app
from repo_server.config import Settings
from repo_server.services import Services
from repo_server.sync import publish
from tests.support import upload_form

from .conftest import repo_sync

pytestmark = [pytest.mark.parametrize("settings", ["sqlite"], indirect=True),
              pytest.mark.parametrize("services", ["local"], indirect=True)]


@pytest.fixture
def mirror_client(services, library, schools):
    doc = library.pdf("勾股定理 讲义.pdf")
    publish(services)
    school = schools()
    run = repo_sync(school.data_dir, services.settings.mirror_dir)
    assert run.returncode == 0, run.stderr
    settings = Settings(data_dir=school.data_dir, secret_key="test-secret")
    assert settings.is_mirror
    local = Services.open(settings)
    app = create_app(settings, local)
    app.config["WTF_CSRF_ENABLED"] = False
    yield app.test_client(), doc
    local.close()


def test_search_preview_and_download_work_on_a_mirror(mirror_client) -> None:
    client, doc = mirror_client
    found = client.get("/api/v1/search?q=勾股定理").get_json()
    assert [hit["id"] for hit in found["hits"]] == [doc["id"]]
    assert client.get(f"/r/{doc['id']}").status_code == 200
    download = client.get(f"/api/v1/resources/{doc['id']}/download")
    assert download.status_code == 200 and download.data.startswith(b"%PDF-1.4 lesson")
    assert client.get("/search?q=勾股定理").status_code == 200


def test_writes_are_refused_on_a_mirror(mirror_client) -> None:
    client, doc = mirror_client
    upload = client.post("/api/v1/resources", data=upload_form(b"%PDF-1.4 x", "x.pdf"),
                         content_type="multipart/form-data")
    assert upload.status_code == 403 and upload.get_json()["error"] == "mirror_read_only"
    assert client.patch(f"/api/v1/resources/{doc['id']}", json={"title": "x"}).status_code == 403
    assert client.delete(f"/api/v1/resources/{doc['id']}").status_code == 403
    page = client.get("/upload")
    assert page.status_code == 403 and "只读镜像" in page.get_data(as_text=True)    # in the visitor's words
    client.set_cookie("lang", "en")
    english = client.get("/upload")
    client.delete_cookie("lang")
    assert "read-only mirror of its upstream library" in english.get_data(as_text=True)
    assert upload.get_json()["reason"] == "mirror_read_only"
    assert client.get(f"/r/{doc['id']}/edit").status_code == 403
    assert client.post("/admin/orgs", data={"name": "x"}).status_code == 403
    assert client.post("/api/v1/uploads/").status_code == 403
    assert client.get("/login").status_code == 200          # local accounts still log in
    # a county mirror's own downstream list stays manageable: removing a retired mirror passes the
    # read-only gate (and then needs a login like anywhere else)
    removal = client.delete("/api/v1/mirrors/一小镜像")
    assert removal.status_code in (400, 401) and removal.get_json().get("reason") != "mirror_read_only"


def test_mirror_mode_setting(services, tmp_path) -> None:
    assert not Settings(data_dir=tmp_path).is_mirror
    assert Settings(data_dir=tmp_path, mirror_mode="on").is_mirror
    (tmp_path / "sync").mkdir()
    (tmp_path / "sync" / "CURRENT").write_text("{}")
    assert Settings(data_dir=tmp_path).is_mirror and not Settings(data_dir=tmp_path, mirror_mode="off").is_mirror
