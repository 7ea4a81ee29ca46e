"""Browser tests: Playwright for Python driving Debian's chromium against a real server.

The browser is `chromium` from apt (REPO_TEST_CHROMIUM to point elsewhere), never one
Playwright downloads: CI installs it, and when it is missing every browser test FAILS with
a message saying so. Pages run in Chinese (`locale=zh-CN`), the way teachers see them.
The server is the `live_server` fixture (gunicorn on loopback, the test's own catalog).
"""

from __future__ import annotations

import os
import shutil
from typing import Iterator

import pytest

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

#: Browser tests run on the SQLite catalog only: the catalog backends are covered below the
#: browser, and each browser test already starts a server and a browser.
sqlite_only = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)


def chromium_path() -> str:
    path = os.environ.get("REPO_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("chromium is not installed: the browser tests need Debian's chromium "
                    "(apt-get install chromium), or REPO_TEST_CHROMIUM=/path/to/chrome", pytrace=False)
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: scripts/bootstrap --test installs it", pytrace=False)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, live_server) -> Iterator:
    """A fresh browser context (no cookies) on the live server, in Chinese."""
    context = browser.new_context(base_url=live_server.url, locale="zh-CN", accept_downloads=True,
                                  viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.js_errors = errors  # type: ignore[attr-defined]
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def log_in(page, world, username: str) -> None:
    """Log in through the login form, as a person would."""
    page.goto("/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(world.passwords[username])
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda url: "/login" not in url)
