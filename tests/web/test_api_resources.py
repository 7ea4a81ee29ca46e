"""The JSON API as scripts use it: bearer tokens, multipart upload, JSON errors."""

from __future__ import annotations

from repo_server.services.consistency import check_consistency
from tests.support import upload_form

MULTIPART = "multipart/form-data"


def test_upload_with_vocabulary_aliases_and_repeated_tags(api, services, corpus) -> None:
    form = upload_form(corpus("stress009.docx"), "第3课 教学设计.docx", title="勾股定理 教学设计",
                       grade="初二", subject="数学", edition="部编版", volume="下册", type="教学设计",
                       chapter="第十七章", lesson="第3课", tags=["公开课", "几何"], visibility="公开")
    response = api("school_editor").post("/api/v1/resources", data=form, content_type=MULTIPART)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert response.headers["Location"] == body["url"] == f"/api/v1/resources/{body['id']}"
    assert body["edition"] == {"code": body["edition"]["code"], "name": "统编版"}
    assert body["type"]["name"] == "教案" and body["volume"]["name"] == "下册"
    assert body["tags"] == ["公开课", "几何"] and body["visibility"] == "public"
    assert body["mime"].endswith("wordprocessingml.document") and body["size"] == 61054
    fetched = api("teacher").get(body["url"]).get_json()
    assert fetched["title"] == "勾股定理 教学设计" and fetched["derivatives"] == []


def test_errors_are_json_with_a_message(api, client) -> None:
    cases = [
        (api("school_editor").post("/api/v1/resources", data=upload_form(b"%PDF-1.4 a", "a.pdf",
                                    subject="数字"), content_type=MULTIPART), 422, "unknown_term"),
        (api("school_editor").post("/api/v1/resources", data={"title": "no file"},
                                   content_type=MULTIPART), 422, "invalid"),
        (api("school_editor").post("/api/v1/resources", data=upload_form(b"", "empty.pdf"),
                                   content_type=MULTIPART), 422, "empty_file"),
        (api("school_editor").post("/api/v1/resources", data=upload_form(b"#!/bin/sh\n", "a.sh"),
                                   content_type=MULTIPART), 415, "dangerous_file"),
        (api("school_editor").post("/api/v1/resources", data=upload_form(b"%PDF-1.4", "../../x.pdf"),
                                   content_type=MULTIPART), 422, "invalid"),
        (api("teacher").post("/api/v1/resources", data=upload_form(b"%PDF-1.4 a", "a.pdf"),
                             content_type=MULTIPART), 403, "forbidden"),
        (client.post("/api/v1/resources", data=upload_form(b"%PDF-1.4 a", "a.pdf"),
                     content_type=MULTIPART), 400, "bad_request"),   # no token, no CSRF
        (api("teacher").get("/api/v1/resources/" + "0" * 32), 404, "not_found"),
        (api("teacher").get("/api/v1/nowhere"), 404, "not_found"),
    ]
    for response, status, code in cases:
        body = response.get_json()
        assert (response.status_code, body["error"]) == (status, code), body
        assert body["message"]


def test_unsigned_visitor_is_asked_to_log_in(client, world) -> None:
    response = client.delete("/api/v1/resources/" + "0" * 32,
                             headers={"Authorization": "Bearer rs_not-a-real-token"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_duplicate_upload_is_409_and_allow_duplicate_files_it_again(api, services) -> None:
    editor = api("school_editor")
    first = editor.post("/api/v1/resources", data=upload_form(b"%PDF-1.4 dup", "a.pdf"),
                        content_type=MULTIPART).get_json()
    again = editor.post("/api/v1/resources", data=upload_form(b"%PDF-1.4 dup", "b.pdf"),
                        content_type=MULTIPART)
    assert again.status_code == 409 and again.get_json()["existing"]["id"] == first["id"]
    filed = editor.post("/api/v1/resources", data=upload_form(b"%PDF-1.4 dup", "b.pdf",
                                                              allow_duplicate="true"),
                        content_type=MULTIPART)
    assert filed.status_code == 201 and filed.get_json()["sha256"] == first["sha256"]
    assert check_consistency(services).blobs == 1


def test_patch_and_delete(api) -> None:
    editor = api("school_editor")
    created = editor.post("/api/v1/resources", data=upload_form(b"%PDF-1.4 p", "p.pdf"),
                          content_type=MULTIPART).get_json()
    patched = editor.patch(created["url"], json={"title": "新标题", "tags": ["复习"], "stage": "高中"})
    assert patched.status_code == 200 and patched.get_json()["stage"]["name"] == "高中"
    regraded = editor.patch(created["url"], json={"grade": "三年级"})  # a grade implies its stage
    assert regraded.status_code == 200 and regraded.get_json()["stage"]["name"] == "小学"
    clash = editor.patch(created["url"], json={"stage": "高中", "grade": "三年级"})
    assert clash.status_code == 422 and clash.get_json()["field"] == "grade"
    assert editor.patch(created["url"], data="title=x").status_code == 422
    assert api("teacher").patch(created["url"], json={"title": "x"}).status_code == 403
    assert api("teacher").delete(created["url"]).status_code == 403
    assert editor.delete(created["url"]).status_code == 204
    assert editor.get(created["url"]).status_code == 404


def test_listing_is_paged_and_filtered_by_permission(api) -> None:
    editor = api("school_editor")
    for i in range(3):
        editor.post("/api/v1/resources", data=upload_form(f"%PDF-1.4 {i}".encode(), f"{i}.pdf",
                                                          visibility="private" if i == 0 else "public"),
                    content_type=MULTIPART)
    page = api("other_teacher").get("/api/v1/resources?per_page=1&page=2").get_json()
    assert (page["total"], page["page"], page["per_page"], len(page["items"])) == (2, 2, 1, 1)
    assert api("school_editor").get("/api/v1/resources").get_json()["total"] == 3
    assert api("teacher").get("/api/v1/resources?page=x").status_code == 422


def test_vocabularies_endpoint(client, world) -> None:
    body = client.get("/api/v1/vocabularies").get_json()
    grades = {t["name"]: t for t in body["grade"]["terms"]}
    assert grades["七年级"]["aliases"] == ["初一", "初中一年级"] and grades["七年级"]["stage"] == "CZ"
    assert body["edition"]["label"] == "教材版本"


def test_healthz(client, world) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "catalog": "ok", "blobstore": "ok"}


def test_oversized_text_field_is_named_as_such(api) -> None:
    form = upload_form(b"%PDF-1.4 f", "f.pdf", description="长" * 200_000)  # 600 KB of text
    response = api("school_editor").post("/api/v1/resources", data=form,
                                         content_type="multipart/form-data")
    assert response.status_code == 422
    assert "form field" in response.get_json()["message"]
