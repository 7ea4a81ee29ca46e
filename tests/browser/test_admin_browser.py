"""An administrator at work in a real browser: creates a teacher (a mistake first, fixed on the
same form), resets the teacher's password, which logs the teacher out, then looks at the
statistics page, whose charts are drawn without any JavaScript."""

from __future__ import annotations

from tests.browser.conftest import log_in, sqlite_only


@sqlite_only
def test_admin_creates_a_teacher_and_reads_the_statistics(page, browser, live_server, world) -> None:
    log_in(page, world, "admin")
    page.get_by_role("link", name="用户").first.click()
    page.get_by_role("link", name="新建用户").click()
    page.get_by_label("用户名").fill("teacher")                 # taken
    page.get_by_label("姓名").fill("王老师")
    page.get_by_label("单位").select_option(label="　　二小（学校）")
    page.get_by_label("初始密码").fill("long enough")
    page.get_by_role("button", name="创建").click()
    assert page.get_by_role("alert").inner_text().strip() == "用户名“teacher”已被使用"
    assert page.get_by_label("姓名").input_value() == "王老师"     # nothing lost
    page.get_by_label("用户名").fill("wang")
    page.get_by_label("初始密码").fill("long enough")
    page.get_by_role("button", name="创建").click()
    assert "已创建账号 wang" in page.get_by_role("status").inner_text()

    teacher = browser.new_context(base_url=live_server.url, locale="zh-CN").new_page()
    log_in(teacher, world, "teacher")
    page.goto("/admin/users?q=teacher")
    page.get_by_role("link", name="teacher", exact=True).click()
    page.get_by_label("新密码").fill("a brand new one")
    page.get_by_role("button", name="重设密码").click()
    assert "登录已全部失效" in page.get_by_role("status").inner_text()
    teacher.reload()
    assert teacher.get_by_role("link", name="登录").is_visible()
    teacher.context.close()

    page.get_by_role("link", name="统计").first.click()
    chart = page.get_by_role("img", name="每日下载量（最近 30 天）")
    assert chart.is_visible() and chart.bounding_box()["width"] > 300
    page.get_by_role("link", name="最近 90 天").click()
    assert page.get_by_role("img", name="每日下载量（最近 90 天）").is_visible()
    assert page.locator(".stats script").count() == 0
