"""Damaged, encrypted and hostile files: status "failed" with a reason, quickly, no damage."""

from __future__ import annotations

import io
import os
import re
import tempfile
import time
import zipfile
from pathlib import Path

import pytest

from repo_server.ingest.extract import extract_text

from .builders import write_epub

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
EPUB = "application/epub+zip"

BILLION_LAUGHS = ('<!DOCTYPE html [<!ENTITY lol "lol">'
                  + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
                            for i in range(1, 10)) + "]>")
XXE = '<!DOCTYPE html [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


def chapter(body: str, doctype: str = "") -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?>{doctype}'
            f'<html xmlns="http://www.w3.org/1999/xhtml"><body>{body}</body></html>')


def small_docx() -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph("正常段落")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def rewrite_zip(data: bytes, path: Path, replace: dict[str, str]) -> Path:
    source = zipfile.ZipFile(io.BytesIO(data))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, replace.get(info.filename) or source.read(info.filename))
    return path


def test_billion_laughs_in_an_epub_chapter_is_not_expanded(tmp_path) -> None:
    path = write_epub(tmp_path / "lol.epub", [
        chapter("<p>第一章 正文</p><p>&lol9;</p>", BILLION_LAUGHS),
        chapter("<p>第二章 仍然读到</p>")])
    started = time.monotonic()
    extraction = extract_text(path, mime=EPUB, extension="epub")
    assert time.monotonic() - started < 2
    assert extraction.status == "done"
    assert "第一章 正文" in extraction.text and "第二章 仍然读到" in extraction.text
    assert "lollol" not in extraction.text
    assert extraction.chars < 200


def test_external_entity_in_an_epub_chapter_reads_no_local_file(tmp_path) -> None:
    path = write_epub(tmp_path / "xxe.epub", [chapter("<p>开始&xxe;结束</p>", XXE)])
    extraction = extract_text(path, mime=EPUB, extension="epub")
    assert extraction.status == "done"
    assert "开始" in extraction.text and "root:" not in extraction.text


def test_entity_declarations_in_the_epub_package_file_are_refused(tmp_path) -> None:
    doctype = BILLION_LAUGHS.replace("<!DOCTYPE html", "<!DOCTYPE package")
    path = write_epub(tmp_path / "lol-opf.epub", [chapter("<p>正文</p>")], title="&lol9;",
                      opf_doctype=doctype)
    extraction = extract_text(path, mime=EPUB, extension="epub")
    assert extraction.status == "failed"
    assert "entities" in extraction.message and "content.opf" in extraction.message


def test_drm_encrypted_epub_fails_instead_of_indexing_ciphertext(tmp_path) -> None:
    path = write_epub(tmp_path / "drm.epub", [chapter("<p>密文</p>")])
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("META-INF/encryption.xml", (
            '<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
            'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData>'
            '<enc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>'
            '<enc:CipherData><enc:CipherReference URI="OEBPS/text/c0.xhtml"/></enc:CipherData>'
            '</enc:EncryptedData></encryption>'))
    extraction = extract_text(path, mime=EPUB, extension="epub")
    assert extraction.status == "failed" and "DRM" in extraction.message


def test_billion_laughs_in_a_docx_part_is_stopped_by_the_xml_parser(tmp_path) -> None:
    data = small_docx()
    xml = zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml").decode()
    head = xml.index("?>") + 2
    hostile = xml[:head] + BILLION_LAUGHS.replace("html", "w:document") + xml[head:]
    path = rewrite_zip(data, tmp_path / "lol.docx",
                       {"word/document.xml": hostile.replace("正常段落", "正常段落&lol9;")})
    started = time.monotonic()
    extraction = extract_text(path, mime=DOCX, extension="docx")
    assert time.monotonic() - started < 2
    assert "lollollol" not in extraction.text
    assert extraction.status == "failed" and "amplification" in extraction.message


def test_zip_bomb_docx_is_refused_before_parsing(tmp_path) -> None:
    """A document.xml that really inflates to 210 MB (≈200 KB on disk)."""
    data = small_docx()
    source = zipfile.ZipFile(io.BytesIO(data))
    path = tmp_path / "bomb.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename != "word/document.xml":
                target.writestr(info.filename, source.read(info.filename))
        with target.open("word/document.xml", "w", force_zip64=True) as member:
            member.write(source.read("word/document.xml")[:-len("</w:document>")])
            block = b" " * (1 << 20)
            for _ in range(210):
                member.write(block)
            member.write(b"</w:document>")
    assert path.stat().st_size < 2_000_000
    started = time.monotonic()
    extraction = extract_text(path, mime=DOCX, extension="docx")
    assert time.monotonic() - started < 0.5
    assert extraction.status == "failed"
    assert "zip bomb" in extraction.message
    assert re.search(r"declares 21\d MB of XML \(limit 200 MB\)", extraction.message)


def test_truncated_docx_is_damaged(tmp_path) -> None:
    path = tmp_path / "cut.docx"
    path.write_bytes(small_docx()[:3000])
    extraction = extract_text(path, mime=DOCX, extension="docx")
    assert extraction.status == "failed" and "damaged" in extraction.message


def test_pdf_that_is_not_a_pdf_fails(tmp_path) -> None:
    path = tmp_path / "fake.pdf"
    path.write_bytes(b"%PDF-1.7\n" + os.urandom(2000))
    extraction = extract_text(path, mime="application/pdf", extension="pdf")
    assert extraction.status == "failed" and extraction.message


def test_word_97_flagged_encrypted_fails_without_starting_libreoffice(corpus, tmp_path) -> None:
    data = bytearray(corpus("61490.doc").read_bytes())
    # The WordDocument stream starts at a sector boundary with the FIB magic 0xA5EC; its
    # flags word at offset 10 carries fEncrypted (0x0100).
    fib = next(offset for offset in range(512, len(data), 512) if data[offset:offset + 2] == b"\xec\xa5")
    data[fib + 11] |= 0x01
    path = tmp_path / "locked.doc"
    path.write_bytes(bytes(data))
    started = time.monotonic()
    extraction = extract_text(path, mime="application/msword", extension="doc")
    assert time.monotonic() - started < 0.5
    assert extraction.status == "failed" and "password" in extraction.message


def test_libreoffice_timeout_kills_its_process_group_and_cleans_up(corpus, tmp_path,
                                                                    monkeypatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    started = time.monotonic()
    extraction = extract_text(corpus("61490.doc"), mime="application/msword", extension="doc",
                              timeout_s=0.01)
    assert time.monotonic() - started < 1
    assert extraction.status == "failed"
    assert extraction.message == "LibreOffice did not finish within 0.01 s"
    assert not list(tmp_path.glob("repo-soffice-*"))
    leftovers = []
    for proc in Path("/proc").iterdir():
        try:
            if str(tmp_path).encode() in (proc / "cmdline").read_bytes():
                leftovers.append(proc.name)
        except OSError:
            continue
    assert leftovers == []


def test_missing_libreoffice_is_a_clear_failure(corpus) -> None:
    extraction = extract_text(corpus("52244.ppt"), mime="application/vnd.ms-powerpoint",
                              extension="ppt", soffice="no-such-soffice")
    assert extraction.status == "failed"
    assert "LibreOffice (no-such-soffice) is not installed" in extraction.message


def test_max_chars_must_be_positive(tmp_path) -> None:
    with pytest.raises(ValueError):
        extract_text(tmp_path / "x.txt", mime="text/plain", extension="txt", max_chars=0)
