"""EPUB cover image and table of contents, for the preview of an e-book.

A teacher browsing the library wants to see an e-book's cover and its chapters before
downloading it on a slow link. Both come out of the EPUB zip: container.xml names the OPF
package; the OPF's manifest says which image is the cover and where the EPUB 3 nav document
or the EPUB 2 NCX is.

An EPUB is an upload like any other, so it is read defensively: every XML part is parsed
with defusedxml (a DOCTYPE is tolerated, entity declarations and external references are
refused: no billion laughs, no XXE); no member declaring more than 32 MB is read (zip
bombs); an href that is absolute, names another scheme or climbs out of the archive with
`..` is never followed; a cover listed in META-INF/encryption.xml (DRM) is refused rather
than handed to Pillow as ciphertext.
"""

from __future__ import annotations

import os
import posixpath
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Iterator
from urllib.parse import unquote, urlsplit
from xml.etree.ElementTree import Element, ParseError

from .images import thumbnail
from .runner import MediaError

__all__ = ["ContentsEntry", "epub_contents", "epub_cover"]

COVER_SIZE = (800, 1200)
MAX_MEMBER_BYTES = 32 * 1024 * 1024
_MAX_TITLE = 200
_MAX_DEPTH = 20                 # deeper lists are ignored: no real book nests that far
_NCX_TYPE = "application/x-dtbncx+xml"
_OPS_TYPE = "{http://www.idpf.org/2007/ops}type"
_FONT_OBFUSCATION = {"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"}


@dataclass(frozen=True)
class ContentsEntry:
    title: str      # whitespace-collapsed, at most 200 characters
    level: int      # 1 = top level, 2 = nested once, ...
    href: str       # member path inside the zip, #fragment kept; "" if none or not followable


class _NotWellFormed(MediaError):
    """A part that is not well-formed XML (damage, not an attack): the caller may fall back."""


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _resolve(base: str, href: str) -> tuple[str, str] | None:
    """(member path, fragment) of `href` found in the member `base` ("" for the archive root);
    None when the href is empty, absolute, has a scheme, or climbs out of the archive root."""
    try:
        parts = urlsplit(href.strip())
    except ValueError:
        return None
    if parts.scheme or parts.netloc or parts.path.startswith("/"):
        return None
    path = unquote(parts.path)
    if not path:                                   # "#fragment": the document itself
        return (base, parts.fragment) if parts.fragment and base else None
    member = posixpath.normpath(posixpath.join(posixpath.dirname(base) if base else "", path))
    if member == ".." or member.startswith(("../", "/")):
        return None
    return member, parts.fragment


class _Book:
    """Checked access to the members of an EPUB zip (names matched case-insensitively)."""

    def __init__(self, path: Path) -> None:
        try:
            self._zip = zipfile.ZipFile(path)
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
            raise MediaError(f"the e-book is damaged: not a readable zip archive ({exc})") from None
        self._infos = {info.filename.lower(): info for info in infos if not info.is_dir()}
        self._encrypted: set[str] | None = None

    def __enter__(self) -> _Book:
        return self

    def __exit__(self, *exc: object) -> None:
        self._zip.close()

    def member(self, name: str) -> str | None:
        info = self._infos.get(name.lower())
        return info.filename if info else None

    def read(self, name: str) -> bytes:
        info = self._infos.get(name.lower())
        if info is None:
            raise MediaError(f"the e-book is damaged: {name} is missing")
        if info.file_size > MAX_MEMBER_BYTES:
            raise MediaError(f"the e-book is refused: {name} declares {info.file_size / 2**20:,.0f} MB "
                             f"(more than {MAX_MEMBER_BYTES // 2**20} MB; a zip bomb?)")
        if info.flag_bits & 0x1:
            raise MediaError(f"the e-book is password-protected: {name} cannot be read")
        if self._encrypted is not None and info.filename.lower() in self._encrypted:
            raise MediaError(f"the e-book is DRM-protected: {name} is encrypted")
        try:
            return self._zip.read(info)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError,
                ValueError) as exc:
            raise MediaError(f"the e-book is damaged: {name} cannot be read ({exc})") from None

    def xml(self, name: str) -> Element:
        from defusedxml import DefusedXmlException
        from defusedxml.ElementTree import fromstring

        try:
            return fromstring(self.read(name), forbid_dtd=False, forbid_entities=True,
                              forbid_external=True)
        except DefusedXmlException:
            raise MediaError(f"the e-book is refused: {name} declares XML entities or external "
                             "references (an entity-expansion attack?)") from None
        except (ParseError, ValueError) as exc:
            raise _NotWellFormed(f"the e-book is damaged: {name} is not well-formed XML "
                                 f"({exc})") from None

    def load_encryption(self) -> None:
        """Note the members META-INF/encryption.xml lists (font obfuscation aside): DRM."""
        encrypted: set[str] = set()
        if self.member("META-INF/encryption.xml"):
            for data in self.xml("META-INF/encryption.xml").iter():
                if _local(data.tag) != "EncryptedData":
                    continue
                method = next((node.get("Algorithm", "") for node in data.iter()
                               if _local(node.tag) == "EncryptionMethod"), "")
                if method in _FONT_OBFUSCATION:
                    continue
                for node in data.iter():
                    if _local(node.tag) == "CipherReference":
                        target = _resolve("", node.get("URI") or "")
                        if target:
                            encrypted.add(target[0].lower())
        self._encrypted = encrypted


@dataclass
class _Package:
    path: str                            # the OPF's member path
    root: Element
    manifest: list[Element]              # <item> elements with an id or href

    def item_path(self, item: Element) -> str | None:
        target = _resolve(self.path, item.get("href") or "")
        return target[0] if target else None


def _package(book: _Book) -> _Package:
    if not book.member("META-INF/container.xml"):
        raise MediaError("the e-book is damaged: META-INF/container.xml is missing (not an EPUB?)")
    container = book.xml("META-INF/container.xml")
    rootfile = next((node.get("full-path") for node in container.iter()
                     if _local(node.tag) == "rootfile" and node.get("full-path")), "")
    target = _resolve("", rootfile)
    if not target or not book.member(target[0]):
        raise MediaError("the e-book is damaged: container.xml names no package (OPF) file "
                         "inside the archive")
    root = book.xml(target[0])
    manifest = [item for node in root if _local(node.tag) == "manifest"
                for item in node if _local(item.tag) == "item"]
    return _Package(book.member(target[0]) or target[0], root, manifest)


def _entry(title: str, level: int, href: str | None, base: str, book: _Book) -> ContentsEntry:
    target = _resolve(base, href or "")
    link = ""
    if target:
        member, fragment = target
        link = (book.member(member) or member) + (f"#{fragment}" if fragment else "")
    return ContentsEntry(" ".join(title.split())[:_MAX_TITLE], level, link)


def _nav_entries(book: _Book, package: _Package) -> Iterator[ContentsEntry]:
    """EPUB 3: the <nav epub:type="toc"> of the manifest item with properties="nav"."""
    item = next((i for i in package.manifest if "nav" in (i.get("properties") or "").split()), None)
    path = package.item_path(item) if item is not None else None
    if not path or not book.member(path):
        return iter(())
    tocs = [node for node in book.xml(path).iter() if _local(node.tag) == "nav" and
            ("toc" in (node.get(_OPS_TYPE) or "").split() or node.get("role") == "doc-toc")]
    top = next((node for toc in tocs[:1] for node in toc.iter() if _local(node.tag) == "ol"), None)

    def walk(ol: Element, level: int) -> Iterator[ContentsEntry]:
        for li in ol:
            if _local(li.tag) != "li":
                continue
            label = next((node for node in li if _local(node.tag) in ("a", "span")), None)
            if label is not None and "".join(label.itertext()).strip():
                yield _entry("".join(label.itertext()), level, label.get("href"), path, book)
            for child in li:
                if _local(child.tag) == "ol" and level < _MAX_DEPTH:
                    yield from walk(child, level + 1)

    return walk(top, 1) if top is not None else iter(())


def _ncx_entries(book: _Book, package: _Package) -> Iterator[ContentsEntry]:
    """EPUB 2: the navMap of the NCX the spine's toc attribute (or the media type) names."""
    spine_toc = next((node.get("toc") for node in package.root if _local(node.tag) == "spine"), None)
    item = next((i for i in package.manifest if spine_toc and i.get("id") == spine_toc), None)
    if item is None:
        item = next((i for i in package.manifest if i.get("media-type") == _NCX_TYPE), None)
    path = package.item_path(item) if item is not None else None
    if not path or not book.member(path):
        return iter(())
    nav_map = next((node for node in book.xml(path).iter() if _local(node.tag) == "navMap"), None)

    def walk(parent: Element, level: int) -> Iterator[ContentsEntry]:
        for point in parent:
            if _local(point.tag) != "navPoint":
                continue
            label = next((node for node in point.iter() if _local(node.tag) == "text"), None)
            content = next((node for node in point if _local(node.tag) == "content"), None)
            title = "".join(label.itertext()) if label is not None else ""
            if title.strip():
                yield _entry(title, level, content.get("src") if content is not None else "",
                             path, book)
            if level < _MAX_DEPTH:
                yield from walk(point, level + 1)

    return walk(nav_map, 1) if nav_map is not None else iter(())


def epub_contents(path: Path, *, max_entries: int = 500) -> list[ContentsEntry]:
    """The book's table of contents, at most `max_entries` entries in reading order.

    From the EPUB 3 nav document (the <nav epub:type="toc"> list, nested <ol>), else the
    EPUB 2 NCX (navMap/navPoint, nested); a book with neither gets [] (titles are not
    guessed from the spine). A nav document that is missing, empty or not well-formed XML
    (sloppy XHTML, an HTML entity like &nbsp;) falls back to the NCX; when that gives
    nothing either, the damage is raised.
    """
    with _Book(path) as book:
        package = _package(book)
        book.load_encryption()
        damage: MediaError | None = None
        for source in (_nav_entries, _ncx_entries):
            try:
                entries = list(islice(source(book, package), max(max_entries, 0)))
            except _NotWellFormed as exc:
                damage = damage or exc
                continue
            if entries:
                return entries
        if damage is not None:
            raise damage
        return []


def _cover_candidates(package: _Package) -> Iterator[Element]:
    """Cover candidates, best first: EPUB 3 properties="cover-image"; EPUB 2
    <meta name="cover" content="ID">; an image whose id or href contains "cover"."""
    images = [i for i in package.manifest if (i.get("media-type") or "").lower().startswith("image/")]
    yield from (i for i in images if "cover-image" in (i.get("properties") or "").split())
    for meta in package.root.iter():
        if _local(meta.tag) == "meta" and meta.get("name") == "cover" and meta.get("content"):
            wanted = meta.get("content")
            # The content should be an id; some tools write the image's href instead.
            yield from (i for i in images if i.get("id") == wanted)
            yield from (i for i in images if i.get("href") == wanted)
    yield from (i for i in images
                if "cover" in (i.get("id") or "").lower() or "cover" in (i.get("href") or "").lower())


def epub_cover(path: Path, dst: Path) -> Path | None:
    """Write the book's cover, fitted into 800×1200, as WebP (or PNG) at `dst` with the image
    suffix; return the path written, or None when the book declares no cover image.

    A candidate whose member is missing or whose href would leave the archive is skipped
    for the next one. A cover listed in encryption.xml, one declaring more than 32 MB and
    one Pillow cannot read (damage, decompression bomb) raise MediaError.
    """
    with _Book(path) as book:
        package = _package(book)
        book.load_encryption()
        member = next((m for m in (package.item_path(i) for i in _cover_candidates(package))
                       if m and book.member(m)), None)
        if member is None:
            return None
        data = book.read(member)
    handle, temporary = tempfile.mkstemp(prefix=".cover-", dir=dst.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        written, _ = thumbnail(Path(temporary), dst, size=COVER_SIZE)
    finally:
        os.unlink(temporary)
    return written
