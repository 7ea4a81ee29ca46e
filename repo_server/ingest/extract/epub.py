"""EPUB 2 and 3: container.xml → OPF package → spine order → XHTML chapters.

The package files (container.xml, the OPF, encryption.xml) are parsed with defusedxml:
a DOCTYPE is tolerated, entity declarations and external references are refused, so a
billion-laughs or XXE payload fails the extraction instead of expanding. Chapters are read
with html.parser (plain.html_to_text), which does not expand custom entities either and,
unlike an XML parser, survives the sloppy XHTML real e-books contain.

The text starts with the book's dc:title and dc:creator values, then the chapters in spine
order. A chapter listed in META-INF/encryption.xml (DRM) cannot be read: the book fails
with a message rather than indexing ciphertext. Font obfuscation is allowed.
"""

from __future__ import annotations

import posixpath
import zipfile
from pathlib import Path
from urllib.parse import unquote
from xml.etree.ElementTree import Element, ParseError

from .containers import checked_zip
from .plain import decode_text, html_charset, html_to_text
from .result import ExtractionFailed, TextSink

__all__ = ["extract_epub"]

_DOCUMENT_TYPES = {"application/xhtml+xml", "text/html", "application/x-dtbook+xml"}
_FONT_OBFUSCATION = {"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"}
_MAX_CHAPTER_BYTES = 64 * 1024 * 1024


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class _Book:
    """Case-tolerant access to the members of the EPUB zip."""

    def __init__(self, archive: zipfile.ZipFile, names: set[str]) -> None:
        self.archive = archive
        self._by_lower = {name.lower(): name for name in names}

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._by_lower

    def read(self, name: str) -> bytes:
        real = self._by_lower.get(name.lower())
        if real is None:
            raise ExtractionFailed(f"the e-book is damaged: {name} is missing")
        info = self.archive.getinfo(real)
        if info.file_size > _MAX_CHAPTER_BYTES:
            raise ExtractionFailed(f"the e-book is refused: {name} declares "
                                   f"{info.file_size / 2**20:,.0f} MB")
        return self.archive.read(real)

    def xml(self, name: str) -> Element:
        from defusedxml import DefusedXmlException
        from defusedxml.ElementTree import fromstring

        try:
            return fromstring(self.read(name), forbid_dtd=False, forbid_entities=True,
                              forbid_external=True)
        except DefusedXmlException as exc:
            raise ExtractionFailed(f"the e-book is refused: {name} declares XML entities or "
                                   "external references (an entity-expansion attack?)") from exc
        except ParseError as exc:
            raise ExtractionFailed(f"the e-book is damaged: {name} is not well-formed XML "
                                   f"({exc})") from exc


def _resolve(base: str, href: str) -> str:
    href = unquote(href.split("#", 1)[0])
    return posixpath.normpath(posixpath.join(base, href)).lstrip("/")


def _encrypted_members(book: _Book, names: set[str]) -> set[str]:
    if "META-INF/encryption.xml" not in names:
        return set()
    encrypted = set()
    for data in book.xml("META-INF/encryption.xml").iter():
        if _local(data.tag) != "EncryptedData":
            continue
        method = next((node.get("Algorithm", "") for node in data.iter()
                       if _local(node.tag) == "EncryptionMethod"), "")
        if method in _FONT_OBFUSCATION:
            continue
        for node in data.iter():
            if _local(node.tag) == "CipherReference" and node.get("URI"):
                encrypted.add(_resolve("", node.get("URI")).lower())
    return encrypted


def extract_epub(path: Path, sink: TextSink) -> str:
    names = checked_zip(path)
    with zipfile.ZipFile(path) as archive:
        book = _Book(archive, names)
        container = book.xml("META-INF/container.xml")
        rootfile = next((node.get("full-path") for node in container.iter()
                         if _local(node.tag) == "rootfile" and node.get("full-path")), None)
        if not rootfile:
            raise ExtractionFailed("the e-book is damaged: container.xml names no package file")
        package = book.xml(rootfile)
        base = posixpath.dirname(rootfile)

        for field in ("title", "creator"):
            for node in package.iter():
                if _local(node.tag) == field and node.text and "purl.org/dc" in node.tag:
                    sink.add(node.text)
        sink.section()

        manifest = {item.get("id"): item for item in package.iter()
                    if _local(item.tag) == "item" and item.get("id") and item.get("href")}
        spine = [ref.get("idref") for ref in package.iter() if _local(ref.tag) == "itemref"]
        items = [manifest[idref] for idref in spine if idref in manifest] or list(manifest.values())
        encrypted = _encrypted_members(book, names)
        for item in items:
            if item.get("media-type", "").lower() not in _DOCUMENT_TYPES:
                continue
            member = _resolve(base, item.get("href", ""))
            if member.lower() in encrypted:
                raise ExtractionFailed("the e-book is DRM-protected: its chapters are encrypted")
            if member not in book:
                continue                 # a dangling spine entry costs one chapter, not the book
            data = book.read(member)
            sink.section()
            for block in html_to_text(decode_text(data, True, html_charset(data)),
                                      keep_title=False).split("\n"):
                sink.add(block)
            if sink.full:
                break
    return "epub"
