"""Uploaded file names: kept faithfully when safe, refused when they try to escape."""

from __future__ import annotations

import pytest

from repo_server.errors import InvalidInput
from repo_server.ingest import clean_filename


@pytest.mark.parametrize(("raw", "clean"), [
    ("勾股定理 课件.pptx", "勾股定理 课件.pptx"),
    ("C:\\Users\\老师\\Desktop\\教案.doc", "教案.doc"),        # old IE sends full paths
    ("folder/sub/视频.mp4", "视频.mp4"),
    ("e\u0301cole.pdf", "\u00e9cole.pdf"),                     # NFC
])
def test_clean(raw, clean) -> None:
    assert clean_filename(raw) == clean


@pytest.mark.parametrize("raw", ["../../etc/passwd", "..\\..\\windows\\win.ini", "a/../b.pdf", "",
                                 "   ", "line\nbreak.pdf", "nul\x00.pdf", "dir/", "."])
def test_refused(raw) -> None:
    with pytest.raises(InvalidInput) as caught:
        clean_filename(raw)
    assert caught.value.field == "filename"


def test_long_names_keep_their_extension() -> None:
    name = clean_filename("课" * 200 + ".pptx")
    assert name.endswith(".pptx") and len(name.encode()) <= 255
