"""PDF text through PDFium (pypdfium2), page by page, stopping once the cap is reached.

PDFium is the PDF engine of Chrome: it reads the damaged and oddly encoded files district
libraries hold (CID fonts, GBK CMaps, non-embedded 黑体) better than pure-Python readers.
It is C code, so hostile files are run through the sandbox (sandbox.py) by the service; and
it is not thread-safe, so calls in one process are serialised by a lock.

Open errors carry PDFium's error code, which tells a password-protected file from a
damaged one; both become "failed" with a message a teacher understands.

PDF lines are layout, not structure: a Chinese sentence wrapped at the margin comes out as
"…增强文化\n自信…", and a phrase search for 文化自信 would miss it. Chinese has no spaces
between words, so a line break between two ideographs (or after a mid-sentence comma) is
removed; breaks after 。！？ and around Latin text stay.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from .result import ExtractionFailed, TextSink

__all__ = ["extract_pdf", "join_cjk_lines"]

_IDEOGRAPHS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WRAPPED = re.compile(f"(?<=[{_IDEOGRAPHS}，、；：“（《])[ \t]*\r?\n[ \t]*(?=[{_IDEOGRAPHS}])")

_PDFIUM_LOCK = threading.Lock()

# FPDF_ERR_* codes from fpdfview.h
_OPEN_ERRORS = {
    2: "the file could not be opened as a PDF",
    3: "the file is damaged: PDFium could not read its structure",
    4: "the PDF is password-protected; its text cannot be read without the password",
    5: "the PDF uses an unsupported security (encryption) handler",
}


def extract_pdf(path: Path, sink: TextSink) -> str:
    import pypdfium2 as pdfium  # heavy: loaded on first use only

    with _PDFIUM_LOCK:
        try:
            document = pdfium.PdfDocument(path)
        except pdfium.PdfiumError as exc:
            code = getattr(exc, "err_code", None)
            raise ExtractionFailed(_OPEN_ERRORS.get(code, f"the file is damaged: {exc}")) from exc
        try:
            pages, broken = len(document), 0
            for index in range(pages):
                try:
                    text = _page_text(document, index)
                except pdfium.PdfiumError:
                    broken += 1          # one damaged page should not cost the others
                    continue
                sink.section()
                if not sink.add(join_cjk_lines(text)):
                    break
        finally:
            document.close()
    if broken and broken == pages:
        raise ExtractionFailed(f"the file is damaged: none of its {pages} pages could be read")
    return "pdfium"


def join_cjk_lines(text: str) -> str:
    """Undo line wrapping inside Chinese sentences (see the module docstring)."""
    return _WRAPPED.sub("", text)


def _page_text(document, index: int) -> str:
    page = document[index]
    try:
        textpage = page.get_textpage()
        try:
            return textpage.get_text_range()
        finally:
            textpage.close()
    finally:
        page.close()
