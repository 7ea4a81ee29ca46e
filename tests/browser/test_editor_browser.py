"""An editor's batch, in a real browser with a real media worker: upload a folder as drafts,
tag and classify it in bulk in the review queue, publish it, and watch its preview jobs
finish on the jobs page; then a teacher finds it.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from repo_server.services import resources
from tests.browser.conftest import log_in, sqlite_only

FOLDER = {
    "初中/数学/人教版/八年级/上册/第十一章 三角形/第1课 三角形的边/三角形的边 课件.pptx": "bug64693.pptx",
    "初中/数学/人教版/八年级/上册/第十一章 三角形/第1课 三角形的边/三角形的边 学案.pdf": "issue2128r.pdf",
    "初中/数学/人教版/八年级/上册/第十一章 三角形/第1课 三角形的边/示意图.png": "hopper.png",
}


@sqlite_only
@pytest.mark.server_env(REPO_EMBEDDED_WORKER="true")
def test_an_editor_uploads_tags_publishes_and_watches_the_jobs(page, browser, live_server, world, services,
                                                               corpus, tmp_path: Path) -> None:
    root = tmp_path / "八年级上册"
    for relative, name in FOLDER.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(corpus(name), target)
    log_in(page, world, "school_editor")
    page.goto("/upload")
    page.get_by_label("状态").select_option("draft")
    page.locator("#folder-input").set_input_files(root)
    page.get_by_role("button", name="开始上传").click()
    page.wait_for_function("document.querySelectorAll('#queue tr.state-done').length === 3", timeout=60_000)

    # The review queue: all three are drafts; tag and classify them at once, then publish.
    page.goto("/admin/resources")
    rows = page.locator("ul.resources > li")
    assert rows.count() == 3
    page.get_by_label("全选本页").check()
    page.get_by_label("添加标签").fill("期中复习，几何")
    page.locator("form.bulk").get_by_label("课", exact=True).fill("第1课 三角形的边")
    page.get_by_role("button", name="发布").click()
    page.wait_for_url("**/admin/resources*")
    assert "已修改 3 个资源" in page.locator("main").inner_text()
    assert page.locator("ul.resources > li").count() == 0          # nothing left to review
    items = resources.list_resources(services, world.teacher, per_page=10)["items"]
    assert len(items) == 3 and all(i["status"] == "published" and i["tags"] == ["几何", "期中复习"] for i in items)

    # The jobs page: the previews are made by the server's own worker; reload until done.
    deadline = time.monotonic() + 240
    while True:
        page.goto("/admin/media")
        summary = page.locator("p.filters").inner_text()
        if "已完成 3" in summary or time.monotonic() > deadline:
            break
        assert "失败 0" in summary, summary
        time.sleep(2)
    assert "已完成 3" in summary, f"jobs did not finish in time: {summary}"

    # A teacher of the school now finds the lesson, its courseware with page images.
    teacher = browser.new_context(base_url=live_server.url, locale="zh-CN")
    tab = teacher.new_page()
    log_in(tab, world, "teacher")
    tab.goto("/search?q=三角形的边")
    tab.get_by_role("link", name="三角形的边 课件").first.click()
    assert tab.locator(".pages img").count() >= 1
    assert "下载整课（3 个文件）" in tab.content()
    teacher.close()
