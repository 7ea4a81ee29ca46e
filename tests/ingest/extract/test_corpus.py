"""Every real document in ../shared/corpus gives the phrase its MANIFEST row promises.

Types come from ingest.sniff, exactly as the upload path will pass them, so this also checks
that what sniff says is something extract_text can act on (the password-protected .docx is
sniffed as OOXML but is an OLE2 envelope; the .doc and .ppt are generic OLE2 named by their
extension). The legacy files go through a real LibreOffice.
"""

from __future__ import annotations

import csv
import re
import time
from pathlib import Path

import pytest

from repo_server.ingest import sniff
from repo_server.ingest.extract import extract_text

MANIFEST = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "MANIFEST.tsv"
DOCUMENT_KINDS = {"pdf", "docx", "pptx", "doc", "ppt", "epub"}


def _rows() -> list[dict[str, str]]:
    if not MANIFEST.is_file():
        return [{"filename": "MANIFEST.tsv", "phrase": "", "password": "", "kind": "pdf"}]
    with open(MANIFEST, encoding="utf-8", newline="") as handle:
        return [row for row in csv.DictReader(handle, delimiter="\t")
                if row["kind"] in DOCUMENT_KINDS]


READABLE = [row for row in _rows() if row["phrase"] and not row["password"]]
PROTECTED = [row for row in _rows() if row["password"]]


def squash(text: str) -> str:
    """Whitespace removed: a CJK phrase may span a paragraph break in the source."""
    return re.sub(r"\s+", "", text)


def extract(path: Path, **kwargs):
    sniffed = sniff(path.read_bytes()[:262144], path.name, path)
    return extract_text(path, mime=sniffed.mime, extension=sniffed.extension, **kwargs)


def test_manifest_lists_every_kind() -> None:
    assert {row["kind"] for row in READABLE} == DOCUMENT_KINDS, MANIFEST


@pytest.mark.parametrize("row", READABLE, ids=[row["filename"] for row in READABLE])
def test_manifest_phrase_is_extracted(corpus, row) -> None:
    path = corpus(row["filename"])
    extraction = extract(path)
    assert extraction.status == "done", extraction.message
    assert squash(row["phrase"]) in squash(extraction.text), extraction.text[:500]
    assert extraction.chars == len(extraction.text) > 0
    assert extraction.message == ""


@pytest.mark.parametrize("row", PROTECTED, ids=[row["filename"] for row in PROTECTED])
def test_password_protected_files_fail_fast_with_a_password_message(corpus, row) -> None:
    path = corpus(row["filename"])
    started = time.monotonic()
    extraction = extract(path)
    assert extraction.status == "failed"
    assert "password" in extraction.message
    assert extraction.text == "" and extraction.chars == 0
    # No LibreOffice start (≈1 s) for the OLE2 envelope: it is recognised first.
    assert time.monotonic() - started < 0.5


def test_phrase_spanning_paragraphs_keeps_the_paragraph_break(corpus) -> None:
    text = extract(corpus("bug64693.pptx")).text
    assert "嘿嘿\n哈哈哈哈哈" in text


def test_broken_pdf_fails_with_a_message(corpus) -> None:
    extraction = extract(corpus("REDHAT-1531897-0.pdf"))
    assert extraction.status == "failed"
    assert "damaged" in extraction.message
    assert extraction.extractor == "pdf"


def test_legacy_word_through_libreoffice_keeps_table_header_and_footer(corpus) -> None:
    extraction = extract(corpus("61490.doc"))
    assert extraction.extractor == "libreoffice+python-docx"
    for expected in ("居中的大标题", "下面是表格3x3", "11\n12\n13", "页眉左", "页脚内容"):
        assert expected in extraction.text


def test_legacy_powerpoint_chinese_text_is_in_the_speaker_notes(corpus) -> None:
    """catppt misses 请注意店名 (MANIFEST); it is the notes text, which LibreOffice keeps."""
    extraction = extract(corpus("52244.ppt"))
    assert extraction.extractor == "libreoffice+python-pptx"
    assert "请注意店名和报告日期，并请修改报告模板年份" in extraction.text
    assert extraction.text.index("${store} STORE") < extraction.text.index("请注意店名")


def test_wps_office_file_that_is_word_97_is_read(corpus, tmp_path) -> None:
    """WPS Office's .wps is the Word 97 binary; the OLE2 streams say so, not the name."""
    path = tmp_path / "教案.wps"
    path.write_bytes(corpus("61490.doc").read_bytes())
    extraction = extract_text(path, mime="application/msword", extension="wps")
    assert extraction.status == "done", extraction.message
    assert "居中的大标题" in extraction.text


def test_epub_starts_with_title_and_creator(corpus) -> None:
    lines = extract(corpus("lemo.epub")).text.splitlines()
    assert lines[:2] == ["檸檬", "梶井 基次郎"]
    text = extract(corpus("testEPUB_multi-metadata-vals.epub"), max_chars=5_000_000).text
    assert text.startswith("The Inheritors\n")
    assert "Joseph Conrad" in text.split("\n\n", 1)[0]


def test_ruby_annotations_do_not_split_words(corpus) -> None:
    """lemo.epub glosses kanji with <rt> readings: 圧<rt>おさ</rt>えつけて → 圧えつけて."""
    text = extract(corpus("lemo.epub")).text
    assert "始終圧えつけていた" in text
    assert "圧おさ" not in text
