"""Text that is already text: TXT (and CSV, Markdown, JSON), HTML, subtitles (SRT, VTT, LRC).

Decoding follows what Chinese teachers' files really are: a BOM wins (UTF-8, UTF-16,
UTF-32); then strict UTF-8; then GB18030 (a superset of GBK and GB2312, which Windows
Notepad wrote by default in China for two decades); then Latin-1, which cannot fail.
HTML may name its charset; "gb2312"/"gbk" labels are read as GB18030 because pages so
labelled routinely contain GBK-only characters.

Only the head of a huge file is read: enough bytes for the character cap with room for
markup and whitespace. HTML goes through the standard library's html.parser, which never
expands custom entities and fetches nothing; script, style and template contents are
skipped.
"""

from __future__ import annotations

import codecs
import html
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

from .result import TextSink

__all__ = ["decode_text", "html_to_text", "extract_plain", "extract_html", "extract_subtitles"]

_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))
_CHINESE_LABELS = {"gb2312", "gbk", "gb_2312-80", "x-gbk", "cp936", "euc-cn"}
_DECLARED = re.compile(rb"""(?:charset|encoding)\s*=\s*["']?\s*([A-Za-z0-9_.:-]{2,40})""", re.IGNORECASE)
_HTML_READ_LIMIT = 32 * 1024 * 1024
_CJK = "\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_SOURCE_BREAK = "\x01"       # a line break in the HTML source, until the text is joined
_SOURCE_SPACE = re.compile(r"\s*\n\s*|\s+")
_CJK_BREAK = re.compile(f"(?<=[{_CJK}])[ \x01]*\x01[ \x01]*(?=[{_CJK}])")


def _read_head(path: Path, limit: int) -> tuple[bytes, bool]:
    """At most `limit` bytes of the file and whether that was all of it."""
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    return data[:limit], len(data) <= limit


def _decode(data: bytes, encoding: str, complete: bool) -> str:
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    return decoder.decode(data, final=complete)  # a cut multi-byte tail is held back


def decode_text(data: bytes, complete: bool = True, declared: str | None = None) -> str:
    """Bytes to str: BOM, then the declared charset, then UTF-8, GB18030, Latin-1."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return _decode(data, encoding, complete)
            except UnicodeDecodeError:
                return data.decode(encoding, "replace")
    candidates = ["utf-8", "gb18030"]
    if declared:
        label = declared.lower()
        label = "gb18030" if label in _CHINESE_LABELS else label
        try:
            codec = codecs.lookup(label)
            if not codec.name.startswith(("utf-16", "utf-32")):   # as HTML: those mean UTF-8
                candidates.insert(0, codec.name)
        except LookupError:
            pass
    for encoding in candidates:
        try:
            return _decode(data, encoding, complete)
        except (UnicodeDecodeError, ValueError, TypeError):   # TypeError: rot13 and friends
            continue
    return data.decode("latin-1")


def extract_plain(path: Path, sink: TextSink) -> str:
    """A text file, read only as far as the cap needs."""
    data, complete = _read_head(path, sink.max_chars * 8 + 65536)
    sink.incomplete = not complete
    for paragraph in re.split(r"\n[ \t\r]*\n", decode_text(data, complete)):
        sink.section()
        if not sink.add(paragraph):
            break
    return "text"


class _HtmlText(HTMLParser):
    """Visible text of an HTML/XHTML document, one block element per line."""

    # rt/rp: ruby annotations (pinyin over 汉字, kana over kanji) would split every word.
    _SKIP: ClassVar[set[str]] = {"script", "style", "template", "noscript", "svg", "math", "object", "iframe",
             "rt", "rp"}
    _BLOCKS: ClassVar[set[str]] = {"p", "div", "br", "hr", "li", "ul", "ol", "dl", "dt", "dd", "tr", "table",
               "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "aside", "header",
               "footer", "nav", "blockquote", "pre", "figure", "figcaption", "caption",
               "title", "body", "address", "main", "td", "th"}

    def __init__(self, keep_title: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0
        self._in_head = False
        self._in_title = False
        self._keep_title = keep_title
        self._preformatted = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag == "head":
            self._in_head = True
        elif tag == "body":
            self._in_head = False
        elif tag == "title":
            self._in_title = True
        elif tag in ("pre", "textarea"):
            self._preformatted += 1
        if tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs) -> None:
        if tag in self._BLOCKS:
            self.parts.append("\n")   # <br/>, <hr/>; a self-closed <script/> skips nothing

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag == "head":
            self._in_head = False
        elif tag == "title":
            self._in_title = False
        elif tag in ("pre", "textarea"):
            self._preformatted = max(0, self._preformatted - 1)
        if tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        if self._in_head and not (self._in_title and self._keep_title):
            return
        if not self._preformatted:
            data = _SOURCE_SPACE.sub(lambda m: _SOURCE_BREAK if "\n" in m.group() else " ", data)
        self.parts.append(data)


def html_to_text(markup: str, keep_title: bool = True) -> str:
    """Visible text of HTML or XHTML; no entity expansion beyond HTML's named characters."""
    parser = _HtmlText(keep_title)
    parser.feed(markup)
    parser.close()
    # Source line breaks are spaces in HTML, and nothing at all between two CJK characters
    # (the CSS Text 3 segment-break rule, and what search wants for 汉字 split across lines).
    text = _CJK_BREAK.sub("", "".join(parser.parts))
    return text.replace(_SOURCE_BREAK, " ")


def html_charset(data: bytes) -> str | None:
    """The charset an HTML/XML document declares in its first 4 KiB, if any."""
    match = _DECLARED.search(data[:4096])
    return match.group(1).decode("ascii") if match else None


def extract_html(path: Path, sink: TextSink) -> str:
    data, complete = _read_head(path, max(_HTML_READ_LIMIT, sink.max_chars * 16))
    sink.incomplete = not complete
    for block in html_to_text(decode_text(data, complete, html_charset(data))).split("\n"):
        if not sink.add(block):
            break
    return "html"


_TIMING = re.compile(r"-->")
_TAGS = re.compile(r"<[^>\n]*>|\{\\[^}\n]*\}")      # <i>, <c.red>, <v Bob>, <00:01.000>, {\an8}
_LRC_STAMP = re.compile(r"\[\d{1,3}:\d{1,2}(?:[.:]\d{1,3})?\]")
_LRC_TAG = re.compile(r"^\[(?:ti|ar|al|au|by|offset|re|ve|length|#):?[^\]]*\]$", re.IGNORECASE)


def subtitle_lines(text: str) -> list[str]:
    """Spoken lines of SRT/VTT/LRC: no cue numbers, ids, timings, headers, notes or tags."""
    blocks = re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    timed = any("-->" in block for block in blocks)
    lines: list[str] = []
    for block in blocks:
        rows = block.split("\n")
        if timed:
            cue = next((i for i, row in enumerate(rows) if _TIMING.search(row)), None)
            if cue is None:
                continue             # WEBVTT header, NOTE, STYLE, REGION, stray numbers
            rows = rows[cue + 1:]    # the cue number / identifier and the timing go
        for row in rows:
            if not timed:
                if _LRC_TAG.match(row.strip()):
                    continue
                row = _LRC_STAMP.sub("", row)
            row = html.unescape(_TAGS.sub("", row)).strip()
            if row and (not lines or lines[-1] != row):   # roll-up captions repeat lines
                lines.append(row)
    return lines


def extract_subtitles(path: Path, sink: TextSink) -> str:
    data, complete = _read_head(path, sink.max_chars * 16 + 65536)
    sink.incomplete = not complete
    for line in subtitle_lines(decode_text(data, complete)):
        if not sink.add(line):
            break
    return "subtitles"
