"""OPDS 1.2 documents (Atom feeds and the OpenSearch description), built with ElementTree.

Every text and attribute goes through ElementTree, which escapes it: a title like
`<script>&` stays text. Links are absolute (OPDS clients resolve relative ones badly),
made by the caller with `url_for(..., _external=True)`. Entry ids are `urn:uuid:` forms of
the resource ids (random UUIDs, the same on every mirror).
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from typing import Any, Iterable

__all__ = ["NAVIGATION", "ACQUISITION", "OPENSEARCH", "ATOM", "Feed", "opensearch_description", "entry_id"]

ATOM = "http://www.w3.org/2005/Atom"
DC = "http://purl.org/dc/terms/"
OPDS = "http://opds-spec.org/2010/catalog"
THR = "http://purl.org/syndication/thread/1.0"
OS = "http://a9.com/-/spec/opensearch/1.1/"
NAVIGATION = "application/atom+xml;profile=opds-catalog;kind=navigation"
ACQUISITION = "application/atom+xml;profile=opds-catalog;kind=acquisition"
OPENSEARCH = "application/opensearchdescription+xml"
REL_ACQUISITION = "http://opds-spec.org/acquisition"
REL_IMAGE = "http://opds-spec.org/image"
REL_THUMBNAIL = "http://opds-spec.org/image/thumbnail"

for _prefix, _uri in (("", ATOM), ("dc", DC), ("opds", OPDS), ("thr", THR), ("opensearch", OS)):
    ET.register_namespace(_prefix, _uri)


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _stamp(value: datetime | str | None) -> str:
    if isinstance(value, str) and value:
        return value
    moment = value if isinstance(value, datetime) else datetime.now(timezone.utc)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def entry_id(resource_id: str) -> str:
    try:
        return uuid.UUID(hex=resource_id).urn
    except ValueError:
        return f"urn:repo-server:{resource_id}"


def _text(parent: ET.Element, ns: str, tag: str, text: str, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, _q(ns, tag), attrs)
    element.text = text
    return element


def _link(parent: ET.Element, rel: str, href: str, type_: str | None = None, **attrs: str) -> ET.Element:
    values = {"rel": rel, "href": href, **({"type": type_} if type_ else {}), **attrs}
    return ET.SubElement(parent, _q(ATOM, "link"), values)


class Feed:
    """One Atom feed: `kind` is NAVIGATION or ACQUISITION (its self link's type)."""

    def __init__(self, *, feed_id: str, title: str, self_url: str, kind: str, start_url: str,
                 search_url: str, updated: datetime | None = None) -> None:
        self.kind = kind
        self.root = ET.Element(_q(ATOM, "feed"))
        _text(self.root, ATOM, "id", feed_id)
        _text(self.root, ATOM, "title", title)
        _text(self.root, ATOM, "updated", _stamp(updated))
        author = ET.SubElement(self.root, _q(ATOM, "author"))
        _text(author, ATOM, "name", "repo-server")
        _link(self.root, "self", self_url, kind)
        _link(self.root, "start", start_url, NAVIGATION)
        _link(self.root, "search", search_url, OPENSEARCH)

    def link(self, rel: str, href: str, type_: str | None = None, **attrs: str) -> None:
        _link(self.root, rel, href, type_, **attrs)

    def paging(self, total: int | None, page: int, per_page: int, url_for_page, has_next: bool) -> None:
        """first/previous/next links and, when known, OpenSearch totals."""
        self.link("first", url_for_page(1), self.kind)
        if page > 1:
            self.link("previous", url_for_page(page - 1), self.kind)
        if has_next:
            self.link("next", url_for_page(page + 1), self.kind)
        if total is not None:
            _text(self.root, OS, "totalResults", str(total))
        _text(self.root, OS, "itemsPerPage", str(per_page))
        _text(self.root, OS, "startIndex", str((page - 1) * per_page + 1))

    def navigation_entry(self, *, entry_id_: str, title: str, href: str, kind: str, content: str,
                         count: int | None = None, rel: str = "subsection") -> None:
        entry = ET.SubElement(self.root, _q(ATOM, "entry"))
        _text(entry, ATOM, "title", title)
        _text(entry, ATOM, "id", entry_id_)
        _text(entry, ATOM, "updated", _stamp(None))
        _text(entry, ATOM, "content", content, type="text")
        extra = {_q(THR, "count"): str(count)} if count is not None else {}
        _link(entry, rel, href, kind, **extra)

    def book_entry(self, book: dict[str, Any], *, download_url: str, images: dict[str, tuple[str, str]],
                   page_url: str) -> None:
        """An acquisition entry: DC metadata, categories, the original file, cover links."""
        entry = ET.SubElement(self.root, _q(ATOM, "entry"))
        _text(entry, ATOM, "title", book["title"])
        _text(entry, ATOM, "id", entry_id(book["id"]))
        _text(entry, ATOM, "updated", _stamp(book.get("updated_at")))
        if book.get("created_at"):
            _text(entry, ATOM, "published", _stamp(book["created_at"]))
        for name in _authors(book.get("creator") or ""):
            author = ET.SubElement(entry, _q(ATOM, "author"))
            _text(author, ATOM, "name", name)
        if book.get("language"):
            _text(entry, DC, "language", book["language"])
        if book.get("publisher"):
            _text(entry, DC, "publisher", book["publisher"])
        if book.get("date"):
            _text(entry, DC, "issued", book["date"])
        if book.get("license"):
            _text(entry, ATOM, "rights", book["license"])
        for scheme, term in _categories(book):
            ET.SubElement(entry, _q(ATOM, "category"),
                          {"scheme": scheme, "term": term["code"], "label": term["name"]})
        for tag in book.get("tags", ()):
            ET.SubElement(entry, _q(ATOM, "category"), {"term": tag, "label": tag})
        if book.get("description"):
            _text(entry, ATOM, "summary", book["description"], type="text")
        _link(entry, REL_ACQUISITION, download_url, book["mime"], length=str(book["size"]))
        for rel, image in ((REL_IMAGE, images.get("cover") or images.get("thumbnail")),
                           (REL_THUMBNAIL, images.get("thumbnail"))):
            if image:  # (url, mime); without a cover, the thumbnail serves as the image
                _link(entry, rel, image[0], image[1])
        _link(entry, "alternate", page_url, "text/html")

    def to_bytes(self) -> bytes:
        return ET.tostring(self.root, encoding="utf-8", xml_declaration=True)


def _authors(creator: str) -> Iterable[str]:
    parts = [p.strip() for p in creator.replace("；", ";").replace("、", ";").split(";")]
    return [p for p in parts if p]


def _categories(book: dict[str, Any]) -> Iterable[tuple[str, dict[str, str]]]:
    for scheme in ("stage", "subject", "grade", "edition", "volume", "type"):
        term = book.get(scheme)
        if term:
            yield f"urn:repo-server:vocabulary:{scheme}", term


def opensearch_description(*, short_name: str, description: str, template: str) -> bytes:
    """The OpenSearch 1.1 description: one Url template with {searchTerms}, answering an
    acquisition feed."""
    # Unprefixed names under a literal default namespace: some apps look for the plain names.
    root = ET.Element("OpenSearchDescription", {"xmlns": OS})
    for tag, text in (("ShortName", short_name), ("Description", description), ("InputEncoding", "UTF-8"),
                      ("OutputEncoding", "UTF-8")):
        ET.SubElement(root, tag).text = text
    ET.SubElement(root, "Url", {"type": ACQUISITION, "template": template})
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
