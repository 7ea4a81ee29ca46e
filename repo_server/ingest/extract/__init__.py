"""Text extraction for full-text search: one call, one `Extraction`, never an exception.

    extraction = extract_text(path, mime=sniffed.mime, extension=sniffed.extension)

The service stores `extraction` on the resource (status, text, message) and ships the text
to school mirrors, so mirrors never need LibreOffice or a PDF parser. Run it through
`ExtractionSandbox` (sandbox.py) when the file comes from outside: the parsers are C code.

Dispatch: the MIME type from ingest.sniff says what kind of document to expect; for Office
kinds the first bytes of the file decide how to read it (OOXML zip → python-docx/-pptx/
openpyxl; OLE2, RTF or ODF → LibreOffice to OOXML first; OLE2 with an encrypted package →
failed at once, without starting LibreOffice). Video, audio, images, archives and Flash have
no text and are answered "unsupported" without opening the file.

Importing this package is cheap: pypdfium2, python-docx, python-pptx and openpyxl are
imported inside the functions that need them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from repo_server.ingest.formats import EXTENSION_FAMILY, MIME_FAMILY, OFFICE_FAMILIES

from .result import (DONE, EMPTY, FAILED, OUT_OF_MEMORY, UNSUPPORTED, Extraction,
                     ExtractionFailed, TextSink, normalise)
from .sandbox import ExtractionSandbox

__all__ = ["extract_text", "route_for", "Extraction", "ExtractionSandbox", "normalise",
           "EXTRACTION_VERSION", "DONE", "EMPTY", "FAILED", "UNSUPPORTED"]

# Bump when extractors change what they produce, so the service can re-extract old text.
EXTRACTION_VERSION = 1

log = logging.getLogger(__name__)

_MODERN = {"document": "docx", "presentation": "pptx", "spreadsheet": "xlsx"}
_OOXML_MAIN = {"word/document.xml": "docx", "ppt/presentation.xml": "pptx",
               "xl/workbook.xml": "xlsx"}
_OLE_STREAMS = {"WordDocument": ("doc", "docx"), "PowerPoint Document": ("ppt", "pptx"),
                "Workbook": ("xls", "xlsx"), "Book": ("xls", "xlsx")}
_ODF = {"application/vnd.oasis.opendocument.text": ("odt", "docx"),
        "application/vnd.oasis.opendocument.presentation": ("odp", "pptx"),
        "application/vnd.oasis.opendocument.spreadsheet": ("ods", "xlsx")}
_OLE_ENVELOPES = {"application/x-ole-storage", "application/cdfv2", "application/vnd.ms-office"}
_HTML = {"text/html", "application/xhtml+xml", "text/xml", "application/xml"}
_SUBTITLES = {"application/x-subrip", "text/vtt", "text/x-subrip"}
_FAMILY = {mime.lower(): family for mime, family in MIME_FAMILY.items()}


def route_for(mime: str, extension: str) -> str | None:
    """Which reader a type goes to: pdf, office, encrypted, epub, html, subtitles, text; None
    when the type carries no text the library indexes."""
    mime = mime.split(";", 1)[0].strip().lower()
    extension = extension.lower().lstrip(".")
    family = _FAMILY.get(mime, "")
    if mime == "application/pdf":
        return "pdf"
    if mime == "application/encrypted":
        return "encrypted"
    if mime == "application/epub+zip":
        return "epub"
    if mime in _SUBTITLES or (extension in ("srt", "vtt", "lrc") and mime.startswith("text/")):
        return "subtitles"
    if mime in _HTML:
        return "html"
    if family in OFFICE_FAMILIES and mime not in ("text/csv",):
        return "office"
    if mime.startswith("text/") or mime == "application/json":
        return "text"
    return None   # video, audio, images, archives, Flash, anything unknown


def _office_kind(mime: str, extension: str) -> str:
    """document, presentation or spreadsheet: the extension settles generic OLE2 envelopes."""
    mime = mime.split(";", 1)[0].strip().lower()
    claimed = EXTENSION_FAMILY.get(extension.lower().lstrip("."), "")
    if (mime in _OLE_ENVELOPES or mime not in _FAMILY) and claimed in OFFICE_FAMILIES:
        return claimed
    family = _FAMILY.get(mime, "document")
    return family if family in OFFICE_FAMILIES else "document"


def extract_text(path: Path, *, mime: str, extension: str, max_chars: int = 100_000,
                 timeout_s: float = 120, soffice: str = "soffice") -> Extraction:
    """The normalised text of one file, at most `max_chars` characters.

    Never raises for a bad file: damaged, encrypted or hostile input gives status "failed"
    with a message saying why; `timeout_s` bounds a LibreOffice conversion.
    """
    route = route_for(mime, extension)
    if route is None:
        return Extraction.unsupported(f"no text is extracted from {mime or 'this type of'} files")
    sink = TextSink(max_chars)
    try:
        if route == "encrypted":
            raise ExtractionFailed("the file is password-protected; its text cannot be read "
                                   "without the password")
        extractor = _extract(route, Path(path), sink, mime, extension, timeout_s, soffice)
    except ExtractionFailed as exc:
        return Extraction.failed(exc.message, extractor=route)
    except MemoryError:
        return Extraction.failed(OUT_OF_MEMORY, extractor=route)
    except RecursionError:
        return Extraction.failed("the file is nested too deeply to read", extractor=route)
    except OSError as exc:
        return Extraction.failed(f"the file could not be read: {exc.strerror or exc}",
                                 extractor=route)
    except Exception as exc:  # parsers raise anything on hostile input
        log.info("text extraction of %s (%s) failed", path, mime, exc_info=True)
        detail = f"{type(exc).__name__}: {exc}"[:200]
        return Extraction.failed(f"the file is damaged or not what its type says ({detail})",
                                 extractor=route)
    return sink.result(extractor)


def _extract(route: str, path: Path, sink: TextSink, mime: str, extension: str,
             timeout_s: float, soffice: str) -> str:
    if route == "pdf":
        from .pdf import extract_pdf
        return extract_pdf(path, sink)
    if route == "epub":
        from .epub import extract_epub
        return extract_epub(path, sink)
    from . import plain
    if route == "text":
        return plain.extract_plain(path, sink)
    if route == "html":
        return plain.extract_html(path, sink)
    if route == "subtitles":
        return plain.extract_subtitles(path, sink)
    return _extract_office(path, sink, _office_kind(mime, extension), extension, timeout_s,
                           soffice)


def _extract_office(path: Path, sink: TextSink, kind: str, extension: str, timeout_s: float,
                    soffice: str) -> str:
    from .containers import checked_zip, container_of, ole_encryption, ole_streams
    from .legacy import convert_with_libreoffice

    container = container_of(path)
    source, target = extension.lower().lstrip(".") or "bin", _MODERN[kind]
    if container == "zip":
        names = checked_zip(path)
        modern = next((fmt for part, fmt in _OOXML_MAIN.items() if part in names), None)
        if modern is not None:
            return _read_modern(modern, path, sink)
        source, target = _odf_kind(path, names) or (source, target)
    elif container == "ole2":
        streams = ole_streams(path)
        encrypted = ole_encryption(path, streams)
        if encrypted:
            raise ExtractionFailed(f"the file is password-protected ({encrypted}); its text "
                                   "cannot be read without the password")
        source, target = next((kinds for name, kinds in _OLE_STREAMS.items() if name in streams),
                              (source, target))
    elif container == "rtf":
        source, target = "rtf", "docx"
    elif container == "pdf":
        from .pdf import extract_pdf
        return extract_pdf(path, sink)
    with convert_with_libreoffice(path, source_suffix=source, target=target,
                                  timeout_s=timeout_s, soffice=soffice) as converted:
        checked_zip(converted)
        return "libreoffice+" + _read_modern(target, converted, sink)


def _odf_kind(path: Path, names: set[str]) -> tuple[str, str] | None:
    import zipfile

    if "mimetype" not in names:
        return None
    with zipfile.ZipFile(path) as archive:
        declared = archive.read("mimetype")[:100].decode("ascii", "replace").strip()
    return _ODF.get(declared)


def _read_modern(fmt: str, path: Path, sink: TextSink) -> str:
    from . import office
    reader = {"docx": office.extract_docx, "pptx": office.extract_pptx,
              "xlsx": office.extract_xlsx}[fmt]
    return reader(path, sink)
