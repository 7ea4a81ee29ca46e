"""OAI-PMH 2.0 response documents and the two metadata formats, built with ElementTree
(every value escaped by it). The mapping of catalog fields to oai_dc and IEEE LOM is
tabled in docs/interop.md.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any

from repo_server.services.oai import Query, format_date

__all__ = ["Document", "FORMATS"]

OAI = "http://www.openarchives.org/OAI/2.0/"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"
LOM = "http://ltsc.ieee.org/xsd/LOM"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
IDENTIFIER = "http://www.openarchives.org/OAI/2.0/oai-identifier"
FORMATS = {
    "oai_dc": ("http://www.openarchives.org/OAI/2.0/oai_dc.xsd", OAI_DC),
    "lom": ("http://ltsc.ieee.org/xsd/lomv1.0/lom.xsd", LOM),
}
_NO_ATTRIBUTES = {"badVerb", "badArgument"}   # the request element then carries none (spec 3.6)


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _add(parent: ET.Element, ns: str, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, _q(ns, tag), attrs)
    if text is not None:
        element.text = text
    return element


class Document:
    """One response: responseDate, request, then the verb's element or errors."""

    def __init__(self, base_url: str, now: datetime, verb: str | None, args: dict[str, str], namespace: str):
        self.namespace, self.base_url = namespace, base_url
        self.root = ET.Element(_q(OAI, "OAI-PMH"), {
            _q(XSI, "schemaLocation"): f"{OAI} http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"})
        _add(self.root, OAI, "responseDate", format_date(now))
        self.request = _add(self.root, OAI, "request", base_url)
        self.attributes = {"verb": verb, **args} if verb else {}
        self.errors = False

    def _body(self, verb: str) -> ET.Element:
        for key, value in self.attributes.items():
            self.request.set(key, value)
        return _add(self.root, OAI, verb)

    def error(self, code: str, message: str) -> None:
        if code not in _NO_ATTRIBUTES and not self.errors:
            for key, value in self.attributes.items():
                self.request.set(key, value)
        _add(self.root, OAI, "error", message, code=code)
        self.errors = True

    def identify(self, name: str, email: str, earliest: datetime) -> None:
        body = self._body("Identify")
        for tag, text in (("repositoryName", name), ("baseURL", self.base_url), ("protocolVersion", "2.0"),
                          ("adminEmail", email), ("earliestDatestamp", format_date(earliest)),
                          ("deletedRecord", "persistent"), ("granularity", "YYYY-MM-DDThh:mm:ssZ")):
            _add(body, OAI, tag, text)
        description = _add(body, OAI, "description")
        ident = ET.SubElement(description, _q(IDENTIFIER, "oai-identifier"), {
            _q(XSI, "schemaLocation"): f"{IDENTIFIER} http://www.openarchives.org/OAI/2.0/oai-identifier.xsd"})
        for tag, text in (("scheme", "oai"), ("repositoryIdentifier", self.namespace), ("delimiter", ":"),
                          ("sampleIdentifier", f"oai:{self.namespace}:0123456789abcdef0123456789abcdef")):
            _add(ident, IDENTIFIER, tag, text)

    def metadata_formats(self) -> None:
        body = self._body("ListMetadataFormats")
        for prefix, (schema, namespace) in FORMATS.items():
            item = _add(body, OAI, "metadataFormat")
            _add(item, OAI, "metadataPrefix", prefix)
            _add(item, OAI, "schema", schema)
            _add(item, OAI, "metadataNamespace", namespace)

    def sets(self, sets: list[tuple[str, str]]) -> None:
        body = self._body("ListSets")
        for spec, name in sets:
            item = _add(body, OAI, "set")
            _add(item, OAI, "setSpec", spec)
            _add(item, OAI, "setName", name)

    def _header(self, parent: ET.Element, record: dict[str, Any]) -> None:
        header = _add(parent, OAI, "header", **({"status": "deleted"} if record["deleted"] else {}))
        _add(header, OAI, "identifier", f"oai:{self.namespace}:{record['id']}")
        _add(header, OAI, "datestamp", format_date(record["datestamp"]))
        for spec in record["sets"]:
            _add(header, OAI, "setSpec", spec)

    def _record(self, parent: ET.Element, record: dict[str, Any], prefix: str) -> None:
        item = _add(parent, OAI, "record")
        self._header(item, record)
        if not record["deleted"]:
            metadata = _add(item, OAI, "metadata")
            (_oai_dc if prefix == "oai_dc" else _lom)(metadata, record["resource"], self.base_url)

    def get_record(self, record: dict[str, Any], prefix: str) -> None:
        self._record(self._body("GetRecord"), record, prefix)

    def list(self, verb: str, records: list[dict[str, Any]], query: Query, token: str,
             total: int | None) -> None:
        body = self._body(verb)
        for record in records:
            if verb == "ListIdentifiers":
                self._header(body, record)
            else:
                self._record(body, record, query.prefix)
        if token or query.cursor:   # a list in several pages: the last one has an empty token
            attrs = {"cursor": str(query.cursor), **({"completeListSize": str(total)} if total else {})}
            _add(body, OAI, "resumptionToken", token, **attrs)

    def to_bytes(self) -> bytes:
        return ET.tostring(self.root, encoding="utf-8", xml_declaration=True)


def _page_url(base_url: str, resource_id: str) -> str:
    return base_url.rsplit("/oai", 1)[0] + f"/r/{resource_id}"


def _oai_dc(parent: ET.Element, r: dict[str, Any], base_url: str) -> None:
    dc = ET.SubElement(parent, _q(OAI_DC, "dc"), {
        _q(XSI, "schemaLocation"): f"{OAI_DC} http://www.openarchives.org/OAI/2.0/oai_dc.xsd"})
    _add(dc, DC, "title", r["title"])
    if r["creator"]:
        _add(dc, DC, "creator", r["creator"])
    for subject in [t["name"] for t in (r["subject"],) if t] + r["tags"]:
        _add(dc, DC, "subject", subject)
    for tag in ("description", "publisher", "date"):
        if r[tag]:
            _add(dc, DC, tag, r[tag])
    if r["type"]:
        _add(dc, DC, "type", r["type"]["name"])
    _add(dc, DC, "format", r["mime"])
    _add(dc, DC, "identifier", _page_url(base_url, r["id"]))
    _add(dc, DC, "language", r["language"] or "zh-CN")
    for scheme in ("stage", "grade", "edition", "volume"):
        if r[scheme]:
            _add(dc, DC, "coverage" if scheme in ("stage", "grade") else "relation", r[scheme]["name"])
    if r["license"]:
        _add(dc, DC, "rights", r["license"])


def _lang(parent: ET.Element, tag: str, text: str, language: str) -> None:
    holder = _add(parent, LOM, tag)
    _add(holder, LOM, "string", text, language=language or "zh-CN")


def _vocab(parent: ET.Element, tag: str, value: str) -> None:
    holder = _add(parent, LOM, tag)
    _add(holder, LOM, "source", "LOMv1.0")
    _add(holder, LOM, "value", value)


def _lom(parent: ET.Element, r: dict[str, Any], base_url: str) -> None:
    lang = r["language"] or "zh-CN"
    lom = ET.SubElement(parent, _q(LOM, "lom"), {
        _q(XSI, "schemaLocation"): f"{LOM} http://ltsc.ieee.org/xsd/lomv1.0/lom.xsd"})
    general = _add(lom, LOM, "general")
    ident = _add(general, LOM, "identifier")
    _add(ident, LOM, "catalog", "URI")
    _add(ident, LOM, "entry", _page_url(base_url, r["id"]))
    _lang(general, "title", r["title"], lang)
    _add(general, LOM, "language", lang)
    if r["description"]:
        _lang(general, "description", r["description"], lang)
    for tag in r["tags"]:
        _lang(general, "keyword", tag, lang)
    life = _add(lom, LOM, "lifeCycle")
    for role, who in (("author", r["creator"]), ("publisher", r["publisher"])):
        if who:
            contribute = _add(life, LOM, "contribute")
            _vocab(contribute, "role", role)
            _add(contribute, LOM, "entity", f"BEGIN:VCARD\nVERSION:3.0\nFN:{who}\nEND:VCARD")
            if r["date"]:
                _add(_add(contribute, LOM, "date"), LOM, "dateTime", r["date"])
    technical = _add(lom, LOM, "technical")
    _add(technical, LOM, "format", r["mime"])
    _add(technical, LOM, "size", str(r["size"]))
    _add(technical, LOM, "location", base_url.rsplit("/oai", 1)[0] + f"/api/v1/resources/{r['id']}/download")
    educational = _add(lom, LOM, "educational")
    if r.get("lom_type"):
        _vocab(educational, "learningResourceType", r["lom_type"])
    _vocab(educational, "context", "school")
    if r["grade"] or r["stage"]:
        _lang(educational, "description", " ".join(t["name"] for t in (r["stage"], r["grade"]) if t), lang)
    rights = _add(lom, LOM, "rights")
    _vocab(rights, "copyrightAndOtherRestrictions", "yes" if r["license"] else "no")
    if r["license"]:
        _lang(rights, "description", r["license"], lang)
    for purpose, schemes in (("discipline", ("stage", "subject", "edition", "grade", "volume")),
                             ("educational level", ("stage", "grade"))):
        terms = [(s, r[s]) for s in schemes if r[s]]
        if not terms:
            continue
        classification = _add(lom, LOM, "classification")
        _vocab(classification, "purpose", purpose)
        path = _add(classification, LOM, "taxonPath")
        _lang(path, "source", "repo-server " + "/".join(schemes), "en")
        for scheme, term in terms:
            taxon = _add(path, LOM, "taxon")
            _add(taxon, LOM, "id", f"{scheme}:{term['code']}")
            _lang(taxon, "entry", term["name"], lang)
