"""Content-Disposition: exact Chinese names in filename*, safe ASCII fallbacks."""

from __future__ import annotations

import pytest

from repo_server.blobstore.disposition import content_disposition
from tests.support import filename_star


@pytest.mark.parametrize(("filename", "fallback"), [
    ("lesson plan.pdf", "lesson plan.pdf"),
    ("勾股定理.pptx", "download.pptx"),
    ("勾股定理", "download"),
    ("Übung 1.docx", "Ubung 1.docx"),
    ('say "hi"\\now.txt', "say _hi__now.txt"),
    ("a/b\r\n.txt", "a_b.txt"),
    ("100%.txt", "100_.txt"),
])
def testcontent_disposition(filename: str, fallback: str) -> None:
    header = content_disposition(filename)
    assert header.startswith(f'attachment; filename="{fallback}"; filename*=UTF-8\'\'')
    assert header.isascii() and "\r" not in header and "\n" not in header
    expected = filename.replace("/", "_").replace("\\", "_").replace("\r", "").replace("\n", "")
    assert filename_star(header) == expected


def test_inline_header() -> None:
    assert content_disposition("封面.png", inline=True).startswith('inline; filename="download.png"')
