"""The acceptance policy over the real-world corpus and hand-made hostile files."""

from __future__ import annotations

import io
import zipfile

import pytest

from repo_server.errors import DangerousFile, EmptyFile, ExtensionMismatch, UnsupportedType
from repo_server.ingest import check_acceptable, extension_of

CORPUS_EXPECTATIONS = {
    "52244.ppt": ("presentation", "application/vnd.ms-powerpoint"),   # generic OLE2, named by .ppt
    "61490.doc": ("document", "application/msword"),
    "bug64693.pptx": ("presentation", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    "stress009.docx": ("document", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "testWORD_protected_passtika.docx": ("document", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "issue19360.pdf": ("document", "application/pdf"),
    "REDHAT-1531897-0.pdf": ("document", "application/pdf"),          # broken, still a PDF
    "lemo.epub": ("ebook", "application/epub+zip"),
    "testMP4AudioOnly.mp4": ("video", "video/mp4"),
    "testWMV.wmv": ("video", "video/x-ms-asf"),
    "testFLV.flv": ("video", "video/x-flv"),
    "Matroska.mkv": ("video", "video/x-matroska"),                    # truncated: transcoding fails later
    "hopper_orientation_6.jpg": ("image", "image/jpeg"),
    "chi.gif": ("image", "image/gif"),
    "droste.zip": ("archive", "application/zip"),
    "gbk.zip": ("archive", "application/zip"),
}


@pytest.mark.parametrize("name", sorted(CORPUS_EXPECTATIONS))
def test_corpus_files_are_classified(corpus, name) -> None:
    path = corpus(name)
    sniffed = check_acceptable(path.read_bytes()[:262144], path.stat().st_size, name, path)
    assert (sniffed.family, sniffed.mime) == CORPUS_EXPECTATIONS[name]
    assert not sniffed.active


def test_hostile_svg_is_accepted_as_active(corpus) -> None:
    path = corpus("svgTestOne.svg")
    sniffed = check_acceptable(path.read_bytes(), path.stat().st_size, path.name, path)
    assert sniffed.active and sniffed.mime == "image/svg+xml"


def test_lying_extension_in_corpus(corpus) -> None:
    path = corpus("dummy.mp4")
    with pytest.raises(ExtensionMismatch):
        check_acceptable(path.read_bytes(), path.stat().st_size, path.name, path)


def test_office_containers_are_interchangeable(corpus) -> None:
    path = corpus("bug64693.pptx")  # OOXML saved with a legacy name: opens everywhere
    sniffed = check_acceptable(path.read_bytes()[:262144], path.stat().st_size, "课件.ppt", path)
    assert sniffed.family == "presentation"


def test_zip_is_looked_into(tmp_path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:  # OOXML whose first entry is not [Content_Types]
        archive.writestr("docProps/app.xml", "<x/>")
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w/>")
    path = tmp_path / "教案.docx"
    path.write_bytes(buffer.getvalue())
    sniffed = check_acceptable(path.read_bytes(), path.stat().st_size, path.name, path)
    assert sniffed.family == "document" and sniffed.mime.endswith("wordprocessingml.document")
    with pytest.raises(ExtensionMismatch):
        check_acceptable(path.read_bytes(), path.stat().st_size, "lesson.mp4", path)


@pytest.mark.parametrize(("data", "name", "error"), [
    (b"", "a.pdf", EmptyFile),
    (b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 200, "tool", DangerousFile),
    (b"MZ\x90\x00\x03" + b"\x00" * 300, "setup.pdf", DangerousFile),
    (b"#!/usr/bin/env python3\nprint(1)\n", "x.txt", DangerousFile),
    (b"<?php system($_GET['c']); ?>", "x.txt", DangerousFile),
    (b"print('hi')\n", "x.py", DangerousFile),
    (b"PK\x03\x04" + b"\x00" * 40, "x.jar", DangerousFile),
    (bytes(range(256)) * 4, "blob.dat", UnsupportedType),
])
def test_refusals(data, name, error) -> None:
    with pytest.raises(error) as caught:
        check_acceptable(data, len(data), name)
    assert caught.value.message


@pytest.mark.parametrize(("name", "ext"), [("a.PDF", "pdf"), ("课件", ""), ("C:\\x\\y.pptx", "pptx"),
                                           ("archive.tar.gz", "gz")])
def test_extension_of(name, ext) -> None:
    assert extension_of(name) == ext
