"""Real files built by the tests: PDFs written by hand (valid xref tables), EPUB zips.

Generated rather than stored because each one exists to provoke one behaviour: a page
content stream that takes PDFium seconds to parse, one that inflates to hundreds of
megabytes, an e-book with an entity-expansion payload.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

__all__ = ["write_pdf", "write_epub", "deflated", "text_page"]


def deflated(prefix: bytes, filler: bytes, repeat: int, chunk: int = 1 << 20) -> bytes:
    """zlib stream of prefix + filler * repeat, compressed chunk by chunk (bounded memory)."""
    compressor = zlib.compressobj(9)
    out = [compressor.compress(prefix)]
    block = filler * max(1, chunk // len(filler))
    remaining = len(filler) * repeat
    while remaining > 0:
        piece = block[:remaining]
        out.append(compressor.compress(piece))
        remaining -= len(piece)
    out.append(compressor.flush())
    return b"".join(out)


def write_pdf(path: Path, pages: list[bytes], *, raw_streams: list[bytes] | None = None) -> Path:
    """A PDF whose pages have the given content streams (Helvetica as /F1).

    `raw_streams` (already Flate-compressed) replace `pages` when given.
    """
    streams = raw_streams if raw_streams is not None else [zlib.compress(p) for p in pages]
    count = len(streams)
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(count))
        + b"] /Count %d >>" % count,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, data in enumerate(streams):
        page_id, content_id = 4 + 2 * i, 5 + 2 * i
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                       b"/Resources << /Font << /F1 3 0 R >> >> >>" % content_id)
        objects.append(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data
                       + b"\nendstream")
        assert page_id == len(objects) - 1
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def text_page(*lines: str) -> bytes:
    """A content stream showing ASCII lines in Helvetica."""
    ops = [b"BT /F1 12 Tf 72 720 Td 14 TL"]
    for line in lines:
        ops.append(b"(" + line.encode("ascii") + b") Tj T*")
    ops.append(b"ET")
    return b"\n".join(ops)


_CONTAINER = """<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>
</container>"""

_OPF = """<?xml version="1.0" encoding="UTF-8"?>{doctype}
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
    <dc:identifier id="id">urn:uuid:0</dc:identifier><dc:title>{title}</dc:title>
    <dc:creator>{creator}</dc:creator><dc:language>zh-CN</dc:language>
  </metadata>
  <manifest>{items}</manifest>
  <spine>{refs}</spine>
</package>"""


def write_epub(path: Path, chapters: list[str], *, title: str = "书名", creator: str = "作者",
               opf_doctype: str = "", spine_order: list[int] | None = None) -> Path:
    """An EPUB 3 with the given XHTML chapters (c1.xhtml …), spine in `spine_order`."""
    order = spine_order if spine_order is not None else list(range(len(chapters)))
    items = "".join(f'<item id="c{i}" href="text/c{i}.xhtml" media-type="application/xhtml+xml"/>'
                    for i in range(len(chapters)))
    refs = "".join(f'<itemref idref="c{i}"/>' for i in order)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        archive.writestr("META-INF/container.xml", _CONTAINER)
        archive.writestr("OEBPS/content.opf", _OPF.format(doctype=opf_doctype, title=title,
                                                          creator=creator, items=items, refs=refs))
        for i, chapter in enumerate(chapters):
            archive.writestr(f"OEBPS/text/c{i}.xhtml", chapter)
    return path
