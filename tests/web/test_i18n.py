"""Page languages: Chinese by default, English on request, and a catalog with no gaps.

The catalog checks run Babel's own extractor over the sources (what
scripts/update-translations does), so a text added to a template without its English
translation, or a .po edited without recompiling the .mo, fails here.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from repo_server.catalog.models import STATUSES, VISIBILITIES
from repo_server.ingest.formats import FAMILY_LABELS
from repo_server.services.fields import FIELDS
from repo_server.web.labels import CHOICE_LABELS, FIELD_LABELS, FORMAT_LABELS

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "repo_server" / "web" / "translations" / "en" / "LC_MESSAGES"
SQLITE_ONLY = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)


def _source_messages() -> set[str]:
    method_map = [("repo_server/web/**.py", "python"), ("repo_server/web/templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map=method_map, keywords=keywords):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def _po():
    with open(CATALOG / "messages.po", "rb") as f:
        return read_po(f)


def test_every_page_text_has_an_english_translation() -> None:
    catalog = _po()
    assert not catalog.fuzzy, "the catalog header is marked fuzzy: pybabel compile would skip it"
    translated = {}
    for m in catalog:
        if m.id:
            key = m.id[0] if isinstance(m.id, tuple) else m.id
            strings = m.string if isinstance(m.string, tuple) else (m.string,)
            translated[key] = all(strings) and "fuzzy" not in m.flags
    sources = _source_messages()
    assert len(sources) > 80
    missing = sorted(s for s in sources if s not in translated)
    untranslated = sorted(s for s in sources if s in translated and not translated[s])
    assert not missing, f"not in the catalog (run scripts/update-translations): {missing}"
    assert not untranslated, f"empty or fuzzy English translations: {untranslated}"


def test_the_compiled_catalog_matches_the_po_file() -> None:
    with open(CATALOG / "messages.mo", "rb") as f:
        compiled = read_mo(f)
    fresh = io.BytesIO()
    write_mo(fresh, _po())
    fresh.seek(0)
    expected = read_mo(fresh)
    def pairs(catalog):
        return {_key(m.id): _key(m.string) for m in catalog if m.id}
    assert pairs(compiled) == pairs(expected), \
        "messages.mo is stale: run scripts/update-translations"


def _key(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


def test_every_field_value_and_format_has_a_label() -> None:
    assert {f.name for f in FIELDS} <= set(FIELD_LABELS)
    assert set(VISIBILITIES) | set(STATUSES) <= set(CHOICE_LABELS)
    assert set(FAMILY_LABELS) == set(FORMAT_LABELS)


@SQLITE_ONLY
def test_pages_are_chinese_by_default_and_english_on_request(client, world) -> None:
    page = client.get("/search?q=x", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert '<html lang="zh-CN">' in page and "搜索" in page and "相关度" in page

    switch = client.get("/lang/en?next=/search%3Fq%3Dx")
    assert switch.status_code == 303 and switch.headers["Location"] == "/search?q=x"
    page = client.get("/search?q=x").get_data(as_text=True)
    assert '<html lang="en">' in page and "Relevance" in page and "相关度" not in page
    assert "中文" in page  # the way back

    assert "Page not found" in client.get("/r/0000").get_data(as_text=True)
    client.get("/lang/zh_CN")
    assert '<html lang="zh-CN">' in client.get("/").get_data(as_text=True)


@SQLITE_ONLY
def test_unknown_languages_and_foreign_redirects_are_refused(client, world) -> None:
    response = client.get("/lang/fr?next=//evil.example/")
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert client.get_cookie("lang") is None
    client.set_cookie("lang", "xx")
    assert '<html lang="zh-CN">' in client.get("/").get_data(as_text=True)
