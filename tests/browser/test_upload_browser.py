"""An editor uploads through the page, as a person would: a whole folder of real files, with
a progress bar per file; a big file that loses its connection and a page reload in the middle;
refused files explained in the page's language.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

from repo_server.services import resources
from repo_server.services.upload_sessions import uploads_dir
from tests.browser.conftest import log_in, sqlite_only

FOLDER = {   # path under the chosen folder → file of the shared corpus
    "初中/数学/人教版/八年级/上册/第十一章 三角形/01 三角形的边.pptx": "bug64693.pptx",
    "初中/数学/人教版/八年级/上册/第十一章 三角形/三角形的高 教学设计.docx": "stress009.docx",
    "初中/数学/人教版/八年级/上册/第十二章 全等三角形/全等三角形.pdf": "issue2128r.pdf",
    "初中/数学/人教版/八年级/上册/素材/图片.png": "hopper.png",
}


def _all_resources(services, world) -> list[dict]:
    return resources.list_resources(services, world.school_editor, per_page=100)["items"]


@sqlite_only
def test_an_editor_uploads_a_folder_with_a_progress_bar_per_file(page, world, services, corpus,
                                                                  tmp_path: Path) -> None:
    root = tmp_path / "资源"
    for relative, name in FOLDER.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(corpus(name), target)
    (root / "初中" / "Thumbs.db").write_bytes(b"\x00" * 100)   # junk the page leaves out
    log_in(page, world, "school_editor")
    page.goto("/upload")
    assert page.locator("#resumable").is_visible()
    assert not page.locator("input[name=file]").is_visible()   # the plain form's input gives way
    page.get_by_label("标签").fill("校本资源")
    page.locator("#folder-input").set_input_files(root)
    rows = page.locator("#queue tr")
    assert rows.count() == len(FOLDER)
    assert "Thumbs.db" not in page.locator("#queue").inner_text()
    page.get_by_role("button", name="开始上传").click()
    page.wait_for_function("document.querySelectorAll('#queue tr.state-done').length === 4",
                           timeout=60_000)
    for i in range(rows.count()):
        row = rows.nth(i)
        assert row.locator("progress").get_attribute("value") == "1000"
        assert row.locator(".state").inner_text() == "已完成"
        assert row.get_by_role("link", name="查看").get_attribute("href").startswith("/r/")
    assert page.locator("#queue-summary").inner_text() == "4/4 个已完成"

    filed = {r["filename"]: r for r in _all_resources(services, world)}
    assert set(filed) == {Path(p).name for p in FOLDER}
    for item in filed.values():
        assert (item["stage"]["name"], item["subject"]["name"], item["edition"]["name"],
                item["grade"]["name"], item["volume"]["name"]) == ("初中", "数学", "人教版", "八年级", "上册")
        assert "校本资源" in item["tags"]
    pptx = filed["01 三角形的边.pptx"]
    assert pptx["title"] == "三角形的边" and pptx["chapter"] == "第十一章 三角形"
    assert pptx["type"]["name"] == "课件"
    assert filed["三角形的高 教学设计.docx"]["type"]["name"] == "教案"
    assert filed["全等三角形.pdf"]["chapter"] == "第十二章 全等三角形"
    assert filed["图片.png"]["type"]["name"] == "素材"
    assert not list(uploads_dir(services).glob("*/data"))   # every file moved into the store


@sqlite_only
def test_a_big_file_survives_a_lost_connection_and_a_reload(page, world, services, tmp_path) -> None:
    payload = b"%PDF-1.4\n" + os.urandom(20 * 1024 * 1024)   # three 8 MiB pieces
    video = tmp_path / "第3课 课堂实录.pdf"
    video.write_bytes(payload)
    log_in(page, world, "school_editor")
    page.goto("/upload")

    patches = {"n": 0}

    def flaky(route) -> None:   # the 2nd piece's connection breaks, then the network is gone
        if route.request.method == "PATCH":
            patches["n"] += 1
            if patches["n"] >= 2:
                route.abort("connectionreset")
                return
        route.continue_()

    page.route(re.compile(r".*/api/v1/uploads/.*"), flaky)
    page.locator("#files-input").set_input_files(video)
    page.get_by_role("button", name="开始上传").click()
    row = page.locator("#queue tr").first
    row.locator("text=网络中断，稍后自动重试").wait_for()
    assert row.locator("progress").get_attribute("value") == str(round(8 * 1024 * 1024 / len(payload) * 1000))

    page.unroute(re.compile(r".*/api/v1/uploads/.*"))
    page.reload()   # the teacher gives up waiting and reloads: the page remembers the upload
    assert "1 个未完成的上传" in page.locator("#unfinished").inner_text()
    offsets: list[str] = []
    page.on("request", lambda r: offsets.append(r.headers.get("upload-offset", "?"))
            if r.method == "PATCH" else None)
    page.locator("#files-input").set_input_files(video)
    page.get_by_role("button", name="开始上传").click()
    page.wait_for_function("document.querySelector('#queue tr.state-done') !== null", timeout=60_000)
    assert offsets == [str(8 * 1024 * 1024), str(16 * 1024 * 1024)]   # on from the first piece
    (item,) = _all_resources(services, world)
    assert item["sha256"] == hashlib.sha256(payload).hexdigest() and item["size"] == len(payload)
    assert item["title"] == "第3课 课堂实录"


@sqlite_only
def test_files_dropped_on_the_page_are_queued_and_uploaded(page, world, services) -> None:
    log_in(page, world, "school_editor")
    page.goto("/upload")
    page.get_by_label("学科").fill("语文")
    # What the browser does when files are dropped: a drop event carrying them.
    page.evaluate("""() => {
        const data = new DataTransfer();
        for (const name of ["春晓.pdf", "静夜思.pdf"]) {
            data.items.add(new File(["%PDF-1.4\\n" + name + "\\n".repeat(2000) + "%%EOF\\n"], name,
                                    {type: "application/pdf"}));
        }
        for (const type of ["dragover", "drop"]) {
            document.getElementById("dropzone").dispatchEvent(
                new DragEvent(type, {dataTransfer: data, bubbles: true, cancelable: true}));
        }
    }""")
    assert page.locator("#queue tr .name").all_inner_texts() == ["春晓.pdf", "静夜思.pdf"]
    page.get_by_role("button", name="开始上传").click()
    page.wait_for_function("document.querySelectorAll('#queue tr.state-done').length === 2")
    filed = {r["title"]: r for r in _all_resources(services, world)}
    assert set(filed) == {"春晓", "静夜思"}
    assert all(r["subject"]["name"] == "语文" for r in filed.values())


@sqlite_only
def test_refused_files_are_explained_in_the_pages_language(page, world, tmp_path: Path) -> None:
    (tmp_path / "春晓.pdf").write_bytes(b"%PDF-1.4\n" + b"spring\n" * 500)
    (tmp_path / "setup.exe").write_bytes(b"MZ\x90\x00" + b"\x00" * 500)
    files = [tmp_path / "春晓.pdf", tmp_path / "setup.exe"]
    log_in(page, world, "school_editor")
    for start, subject, expected in (
            ("/upload", "学科", ["文件名：“setup.exe”是 .exe 文件，可以运行程序，不能上传",
                                 "学科：词表中没有“数字”；您要找的是不是：数学"]),
            ("/lang/en?next=/upload", "Subject", ["File name: “setup.exe” is a .exe file, which can run "
                                                  "programs and cannot be uploaded",
                                                  "Subject: “数字” is not in the vocabulary; did you mean 数学"])):
        page.goto(start)
        page.get_by_label(subject, exact=True).fill("数字")
        page.locator("#files-input").set_input_files(files)
        page.locator("#start-upload").click()
        page.wait_for_function("document.querySelectorAll('#queue tr.state-failed').length === 2")
        said = page.locator("#queue tr .error").all_inner_texts()   # rows in name order
        assert [s[:len(e)] for s, e in zip(said, expected, strict=True)] == expected, said
        assert page.get_by_label(subject, exact=True).input_value() == "数字"    # what was typed stays
