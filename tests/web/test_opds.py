"""The OPDS 1.2 catalog (/opds/): every feed parsed as XML, links followed (navigation leads
to acquisition feeds, pages cover every e-book once, acquisition links download the file
with its type, covers exist), search through the OpenSearch template, HTTP Basic auth with
a password and with a token, wrong passwords answering 401 and counting against the login
limit, and private e-books invisible to other schools."""

from __future__ import annotations

import base64
import dataclasses
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import pytest

from repo_server.app import create_app
from repo_server.services.indexing import catch_up
from repo_server.services.media_work import run_job
from repo_server.services.search_tools import search_index
from repo_server.services.resources import ingest

A = "{http://www.w3.org/2005/Atom}"
OS = "{http://a9.com/-/spec/opensearch/1.1/}"
DC = "{http://purl.org/dc/terms/}"
NAV = "application/atom+xml;profile=opds-catalog;kind=navigation"
ACQ = "application/atom+xml;profile=opds-catalog;kind=acquisition"
ACQUIRE = "http://opds-spec.org/acquisition"
SQLITE_ONLY = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
MATH8 = {"stage": "初中", "subject": "数学", "grade": "八年级"}
CHINESE7 = {"stage": "初中", "subject": "语文", "grade": "七年级"}


def basic(username: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()}


@pytest.fixture
def shelf(services, world, stage, corpus):
    """25 public PDF e-books (电子图书) in 初中 数学 八年级, one EPUB with a cover in 初中 语文
    七年级, one e-book for 一小 only (visibility organisation), a draft, and a PDF that is not an e-book."""
    def add(data: bytes, filename: str, **fields):
        return ingest(services, world.school_editor, stage(data), filename, fields)
    ids = {"math": [add(f"%PDF-1.4 book {n}".encode(), f"book{n}.pdf", title=f"数学读本 {n}", type="电子图书",
                        creator="张三；李四", publisher="人民教育出版社", description=f"第 {n} 册 x < y & z > w",
                        tags=["勾股定理"], **MATH8)["id"] for n in range(25)]}
    epub = add(corpus("testEPUB_multi-metadata-vals.epub").read_bytes(), "散文集.epub", title="散文集",
               **CHINESE7)
    run_job(services, epub["media"]["id"])
    ids["epub"] = epub["id"]
    ids["private"] = add(b"%PDF-1.4 private book", "校本.pdf", title="校本读本", type="电子图书",
                         visibility="organisation", **MATH8)["id"]
    ids["draft"] = add(b"%PDF-1.4 draft book", "草稿.pdf", title="草稿读本", type="电子图书", status="draft",
                       **MATH8)["id"]
    ids["plan"] = add(b"%PDF-1.4 plan", "教案.pdf", title="勾股定理 教案", type="教案", **MATH8)["id"]
    return ids


def feed(client, url: str, headers=None, kind: str | None = None) -> ET.Element:
    response = client.get(url, headers=headers or {})
    assert response.status_code == 200, (url, response.status_code, response.get_data(as_text=True))
    if kind:
        assert response.content_type.startswith(kind), response.content_type
    root = ET.fromstring(response.data)
    assert root.tag == f"{A}feed"
    for tag in ("id", "title", "updated"):
        assert root.find(f"{A}{tag}") is not None
    links = {link.get("rel"): link for link in root.findall(f"{A}link")}
    assert links["self"].get("href").startswith("http://localhost/opds/")
    assert links["start"].get("type") == NAV and links["search"].get("type") == "application/opensearchdescription+xml"
    return root


def path(url: str) -> str:
    parts = urlsplit(url)
    assert parts.scheme == "http" and parts.netloc == "localhost", url   # absolute links
    return parts.path + (f"?{parts.query}" if parts.query else "")


def entries(root: ET.Element) -> list[ET.Element]:
    return root.findall(f"{A}entry")


def link(element: ET.Element, rel: str) -> ET.Element | None:
    return next((item for item in element.findall(f"{A}link") if item.get("rel") == rel), None)


def walk(client, url: str, headers=None) -> list[ET.Element]:
    """Every entry of a paged acquisition feed, following rel=next; checks first/previous."""
    seen: list[ET.Element] = []
    page = 1
    while url:
        root = feed(client, url, headers, ACQ)
        assert path(link(root, "first").get("href")).split("?")[0] == url.split("?")[0]
        assert (link(root, "previous") is not None) == (page > 1)
        seen += entries(root)
        nxt = link(root, "next")
        url = path(nxt.get("href")) if nxt is not None else ""
        page += 1
    return seen


def titles(items: list[ET.Element]) -> list[str]:
    return [item.find(f"{A}title").text for item in items]


def test_navigation_leads_to_acquisition_feeds_with_counts(client, world, shelf) -> None:
    root = feed(client, "/opds/", kind=NAV)
    top = {item.find(f"{A}title").text: item for item in entries(root)}
    assert set(top) == {"最新电子图书", "初中"}                      # only stages with e-books
    stage = link(top["初中"], "subsection")
    assert stage.get("type") == NAV and stage.get("{http://purl.org/syndication/thread/1.0}count") == "26"
    subjects = {item.find(f"{A}title").text: item for item in entries(feed(client, path(stage.get("href")),
                                                                              kind=NAV))}
    assert set(subjects) == {"全部（初中）", "数学", "语文"}
    assert link(subjects["数学"], "subsection").get("{http://purl.org/syndication/thread/1.0}count") == "25"
    grades = {item.find(f"{A}title").text: item for item in entries(
        feed(client, path(link(subjects["数学"], "subsection").get("href")), kind=NAV))}
    assert set(grades) == {"全部（初中 › 数学）", "八年级"}
    books_link = link(grades["八年级"], "subsection")
    assert books_link.get("type") == ACQ
    books = walk(client, path(books_link.get("href")))
    assert len(books) == 25 and len(set(titles(books))) == 25
    assert "校本读本" not in titles(books) and "草稿读本" not in titles(books) and "勾股定理 教案" not in titles(books)
    assert client.get("/opds/nav?stage=XX-nope").status_code == 404
    assert client.get("/opds/books?grade=G8").status_code == 404                        # a gap


def test_acquisition_entries_carry_metadata_download_and_cover(client, world, shelf) -> None:
    everything = walk(client, "/opds/new")
    assert len(everything) == 26 and len({e.find(f"{A}id").text for e in everything}) == 26
    assert titles(everything)[0] == "散文集"                                            # newest first
    book = next(e for e in everything if e.find(f"{A}title").text == "数学读本 3")
    assert book.find(f"{A}id").text.startswith("urn:uuid:")
    assert [a.find(f"{A}name").text for a in book.findall(f"{A}author")] == ["张三", "李四"]
    assert book.find(f"{DC}language").text == "zh-CN" and book.find(f"{DC}publisher").text == "人民教育出版社"
    assert book.find(f"{A}summary").text == "第 3 册 x < y & z > w"                         # escaped, intact
    labels = {c.get("label") for c in book.findall(f"{A}category")}
    assert {"初中", "数学", "八年级", "电子图书", "勾股定理"} <= labels
    acquire = link(book, ACQUIRE)
    assert acquire.get("type") == "application/pdf"
    download = client.get(path(acquire.get("href")))
    assert download.status_code == 200 and download.data == b"%PDF-1.4 book 3"
    assert download.content_type == "application/pdf"
    epub = everything[0]
    assert link(epub, ACQUIRE).get("type") == "application/epub+zip"
    for rel in ("http://opds-spec.org/image", "http://opds-spec.org/image/thumbnail"):
        image = client.get(path(link(epub, rel).get("href")))
        assert image.status_code == 200 and image.content_type.startswith("image/") and image.data
    assert link(book, "http://opds-spec.org/image/thumbnail") is None                  # no thumbnail made


def test_search_through_the_opensearch_description(client, world, shelf, services) -> None:
    writer = search_index(services).try_writer()
    catch_up(services, writer)
    writer.close()
    description = client.get("/opds/opensearch.xml")
    assert description.content_type.startswith("application/opensearchdescription+xml")
    url = ET.fromstring(description.data).find(f"{OS}Url")
    assert url.get("type") == ACQ and "{searchTerms}" in url.get("template")
    found = walk(client, path(url.get("template").replace("{searchTerms}", "数学读本")))
    assert len(found) == 25 and len(set(titles(found))) == 25
    assert "勾股定理 教案" not in titles(walk(client, "/opds/search?q=勾股定理"))            # not an e-book
    assert titles(walk(client, "/opds/search?q=散文集")) == ["散文集"]


def test_basic_auth_with_password_and_token_and_private_items(client, world, shelf) -> None:
    def visible(headers) -> set[str]:
        return set(titles(walk(client, "/opds/new", headers)))
    assert "校本读本" not in visible(None)
    assert "校本读本" in visible(basic("teacher", world.passwords["teacher"]))          # same school
    assert "校本读本" in visible(basic("teacher", world.tokens["teacher"]))
    assert "校本读本" not in visible(basic("other_teacher", world.passwords["other_teacher"]))
    private = next(e for e in walk(client, "/opds/new", basic("teacher", world.tokens["teacher"]))
                   if e.find(f"{A}title").text == "校本读本")
    href = path(link(private, ACQUIRE).get("href"))
    assert client.get(href, headers=basic("teacher", world.tokens["teacher"])).status_code == 200
    assert client.get(href, headers=basic("other_teacher", world.tokens["other_teacher"])).status_code == 404
    assert client.get(href).status_code == 404
    assert client.get("/opds/", headers=basic("other_teacher", world.tokens["teacher"])).status_code == 401
    challenge = client.get("/opds/auth/")                                               # always asks
    assert challenge.status_code == 401 and challenge.headers["WWW-Authenticate"].startswith('Basic realm="')
    signed_in = feed(client, "/opds/auth/", basic("teacher", world.passwords["teacher"]), NAV)
    assert path(link(signed_in, "self").get("href")) == "/opds/auth/"                   # links stay under /auth


@SQLITE_ONLY
def test_wrong_passwords_answer_401_and_count_against_the_login_limit(services, world, shelf) -> None:
    services.settings = dataclasses.replace(services.settings, login_limit="3 per 15 minutes")
    app = create_app(services.settings, services)
    client = app.test_client()
    env = {"REMOTE_ADDR": "203.0.113.9"}
    for _ in range(2):
        wrong = client.get("/opds/", headers=basic("teacher", "wrong-password"), environ_base=env)
        assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Basic")
    for _ in range(3):  # neither right credentials nor anonymous requests count
        assert client.get("/opds/", headers=basic("teacher", world.passwords["teacher"]),
                          environ_base=env).status_code == 200
        assert client.get("/opds/", environ_base=env).status_code == 200
    # the login form shares the counter: its failure is the third
    from tests.web.test_ui_auth import csrf_token
    token = csrf_token(client)
    assert client.post("/login", data={"username": "teacher", "password": "nope", "csrf_token": token},
                       environ_base=env).status_code == 401
    blocked = client.get("/opds/", headers=basic("teacher", world.passwords["teacher"]), environ_base=env)
    assert blocked.status_code == 429
    assert client.get("/opds/", environ_base=env).status_code == 200                    # no credentials: not limited
    assert client.get("/opds/", headers=basic("teacher", world.passwords["teacher"]),
                      environ_base={"REMOTE_ADDR": "198.51.100.3"}).status_code == 200


@SQLITE_ONLY
def test_without_public_access_anonymous_readers_are_challenged(services, world, shelf) -> None:
    services.settings = dataclasses.replace(services.settings, public_access=False)
    client = create_app(services.settings, services).test_client()
    response = client.get("/opds/new")
    assert response.status_code == 401 and "Basic" in response.headers["WWW-Authenticate"]
    assert len(walk(client, "/opds/new", basic("teacher", world.passwords["teacher"]))) == 27
