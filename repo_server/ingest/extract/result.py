"""What an extraction returns, and the text clean-up every extractor shares.

`Extraction` is the record the catalog stores and the mirrors receive: a status, the text
(already normalised and capped) and a human message when something went wrong. Extractors
never build it themselves: they feed pieces of text into a `TextSink`, which normalises each
piece as it arrives and tells them when the cap is reached so they can stop reading early
(a 900-page PDF is not parsed to the end for the first 100,000 characters).

Normalisation is what a search index wants from office formats that mark line breaks with
\\v (PowerPoint), \\r\\n (PDFium) or U+2028: NFC, every line break a plain \\n, control
characters and invisible format characters dropped, runs of spaces (ASCII, no-break,
ideographic U+3000, en spaces) collapsed to one, lines trimmed, at most one blank line.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["Extraction", "ExtractionFailed", "TextSink", "normalise", "DONE", "EMPTY", "FAILED",
           "UNSUPPORTED", "OUT_OF_MEMORY"]

DONE, EMPTY, FAILED, UNSUPPORTED = "done", "empty", "failed", "unsupported"
OUT_OF_MEMORY = "the file needs more memory than text extraction may use"

_LINE_BREAKS = str.maketrans({"\r": "\n", "\v": "\n", "\f": "\n", "\x85": "\n",
                              "\u2028": "\n", "\u2029": "\n", "\t": " "})
# C0/C1 controls (\n survives: it was the only one left), lone surrogates from bad decodes,
# non-characters, BOM, zero-width space, soft hyphen, bidi embedding controls.
_INVISIBLE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff\ufeff\u200b"
                        "\u00ad\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r"[^\S\n]+")          # any whitespace but \n (U+3000 and U+00A0 included)
_LINE_EDGES = re.compile(r" ?\n ?")
_BLANK_RUNS = re.compile(r"\n{3,}")


def normalise(text: str) -> str:
    """NFC, \\n line breaks only, no control characters, single spaces, ≤ 1 blank line."""
    text = text.replace("\r\n", "\n").translate(_LINE_BREAKS)
    text = unicodedata.normalize("NFC", _INVISIBLE.sub("", text))
    text = _LINE_EDGES.sub("\n", _SPACES.sub(" ", text))
    return _BLANK_RUNS.sub("\n\n", text).strip()


@dataclass(frozen=True)
class Extraction:
    """The outcome of extracting one file's text; stored on the resource, shipped to mirrors."""

    status: str        # "done" | "empty" | "failed" | "unsupported"
    text: str          # normalised, at most max_chars characters
    chars: int         # len(text)
    truncated: bool    # the file held more text than max_chars (or was not read to the end)
    extractor: str     # which reader produced it ("pdfium", "libreoffice+docx", …)
    message: str       # human explanation for failed/unsupported/empty, else ""

    @classmethod
    def failed(cls, message: str, extractor: str = "") -> Extraction:
        return cls(FAILED, "", 0, False, extractor, message)

    @classmethod
    def unsupported(cls, message: str) -> Extraction:
        return cls(UNSUPPORTED, "", 0, False, "", message)


class ExtractionFailed(Exception):
    """Raised inside extractors for a file that cannot be read; becomes status "failed"."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TextSink:
    """Collects normalised text up to a cap; extractors stop once `full` is true."""

    def __init__(self, max_chars: int) -> None:
        if max_chars < 1:
            raise ValueError("max_chars must be at least 1")
        self.max_chars = max_chars
        self.incomplete = False   # set by readers that stopped before the end of the file
        self._parts: list[str] = []
        self._count = 0

    @property
    def full(self) -> bool:
        # Strictly more than the cap: only then is the text known to be truncated.
        return self._count > self.max_chars

    def add(self, text: str | None) -> bool:
        """Add one piece (a paragraph, a cell, a page); False once no more is wanted."""
        if text and not self.full:
            piece = normalise(text)
            if piece:
                self._parts.append(piece)
                self._count += len(piece) + 1
        return not self.full

    def section(self) -> None:
        """Mark a boundary (page, slide, sheet, chapter): a blank line in the text."""
        if self._parts and self._parts[-1] != "":
            self._parts.append("")

    def result(self, extractor: str) -> Extraction:
        text = normalise("\n".join(self._parts))
        truncated = self.incomplete or len(text) > self.max_chars
        text = text[:self.max_chars].rstrip()
        if not text:
            return Extraction(EMPTY, "", 0, truncated, extractor,
                              "the file contains no extractable text (a scan or only images?)")
        return Extraction(DONE, text, len(text), truncated, extractor, "")
