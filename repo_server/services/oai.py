"""OAI-PMH 2.0 harvesting over the catalog: which resources are records, their datestamps,
sets, and stateless signed resumption tokens (docs/interop.md).

Records: harvesters are anonymous, so a record is live only while its resource is
published, public and not deleted. Every other resource that has changed since it was
created (edited, withdrawn, made private, returned to draft, deleted) is a *deleted* record,
so a harvester learns that what it copied is gone; one created private and never touched
is no record at all. Deletion is soft (rows keep `deleted_at`), so deleted records persist
for ever: deletedRecord is "persistent".

Datestamp: the time of the resource's latest change-log row (every edit, visibility change,
deletion, and a renamed vocabulary term touching it, append one), else `updated_at`; so a
change after a harvester's `from` is always seen. Lists are ordered by resource id and a
token carries the last id handed out, so records never shift between pages.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select

from repo_server.catalog.models import Change, Resource, VocabTerm

from .context import Services
from .views import resource_view

__all__ = ["OaiError", "Query", "SET_SCHEMES", "datestamp_column", "earliest_datestamp", "list_sets",
           "harvest", "get_record", "parse_date", "format_date", "encode_token", "decode_token"]

SET_SCHEMES = ("stage", "subject")
_SET_COLUMN = {"stage": Resource.stage_id, "subject": Resource.subject_id}


class OaiError(Exception):
    """An OAI-PMH error condition: `code` is the protocol's (badArgument, …)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class Query:
    """One list request: the arguments, and where the previous page stopped."""

    verb: str
    prefix: str
    start: datetime | None = None        # inclusive
    end: datetime | None = None          # exclusive (until + its granularity)
    set_spec: str | None = None
    after: str = ""
    cursor: int = 0
    total: int | None = None


def format_date(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_date(text: str) -> tuple[datetime, timedelta]:
    """A from/until argument and its granularity (a day or a second); badArgument otherwise."""
    for pattern, step in (("%Y-%m-%dT%H:%M:%SZ", timedelta(seconds=1)), ("%Y-%m-%d", timedelta(days=1))):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=timezone.utc), step
        except ValueError:
            continue
    raise OaiError("badArgument", f"{text!r} is not a date (YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ)")


def datestamp_column() -> ColumnElement:
    latest = select(func.max(Change.at)).where(Change.resource_id == Resource.id).scalar_subquery()
    return func.coalesce(latest, Resource.updated_at)


def _live() -> ColumnElement[bool]:
    return and_(Resource.deleted_at.is_(None), Resource.status == "published", Resource.visibility == "public")


def _is_record() -> ColumnElement[bool]:
    touched = select(Change.seq).where(Change.resource_id == Resource.id, Change.op != "create").exists()
    return or_(_live(), touched)


def earliest_datestamp(svc: Services) -> datetime:
    with svc.catalog.read() as session:
        first = session.scalar(select(func.min(Change.at)))
        return first or datetime(2000, 1, 1, tzinfo=timezone.utc)


def list_sets(svc: Services) -> list[tuple[str, str]]:
    """(setSpec, setName): the two groupings, then one set per 学段 and per 学科 term."""
    sets = [("stage", "学段"), ("subject", "学科")]
    with svc.catalog.read() as session:
        for scheme in SET_SCHEMES:
            rows = session.execute(select(VocabTerm.code, VocabTerm.name).where(
                VocabTerm.scheme == scheme, VocabTerm.active.is_(True)).order_by(VocabTerm.position, VocabTerm.id))
            sets += [(f"{scheme}:{code}", name) for code, name in rows]
    return sets


def _set_clause(session, spec: str) -> ColumnElement[bool]:
    scheme, _, code = spec.partition(":")
    if scheme not in SET_SCHEMES:
        raise OaiError("badArgument", f"no set {spec!r}")
    if not code:
        return _SET_COLUMN[scheme].is_not(None)
    term = session.scalar(select(VocabTerm.id).where(VocabTerm.scheme == scheme, VocabTerm.code == code))
    if term is None:
        raise OaiError("badArgument", f"no set {spec!r}")
    return _SET_COLUMN[scheme] == term


def _record(session, r: Resource, stamp: datetime, with_metadata: bool) -> dict[str, Any]:
    sets = [f"{scheme}:{getattr(r, scheme).code}" for scheme in SET_SCHEMES if getattr(r, scheme) is not None]
    live = r.deleted_at is None and r.status == "published" and r.visibility == "public"
    record: dict[str, Any] = {"id": r.id, "datestamp": stamp, "deleted": not live, "sets": sets}
    if live and with_metadata:
        view = resource_view(session, r, with_derivatives=False)
        view["lom_type"] = (r.type.data or {}).get("lom") if r.type is not None else None
        record["resource"] = view
    return record


def harvest(svc: Services, query: Query, *, page_size: int) -> tuple[list[dict[str, Any]], Query | None]:
    """One page of records for ListIdentifiers/ListRecords, and the query of the next page
    (None at the end). noRecordsMatch when the first page is empty."""
    stamp = datestamp_column().label("stamp")
    with svc.catalog.read() as session:
        where = [_is_record()]
        if query.set_spec:
            where.append(_set_clause(session, query.set_spec))
        if query.start is not None:
            where.append(datestamp_column() >= query.start)
        if query.end is not None:
            where.append(datestamp_column() < query.end)
        total = query.total
        if total is None:
            total = session.scalar(select(func.count()).select_from(Resource).where(*where)) or 0
        rows = session.execute(select(Resource, stamp).where(*where, Resource.id > query.after)
                               .order_by(Resource.id).limit(page_size + 1)).all()
        if not rows and query.cursor == 0:
            raise OaiError("noRecordsMatch", "no records match these arguments")
        page = [_record(session, r, s, query.verb == "ListRecords") for r, s in rows[:page_size]]
    nxt = None
    if len(rows) > page_size:
        nxt = Query(query.verb, query.prefix, query.start, query.end, query.set_spec, page[-1]["id"],
                    query.cursor + len(page), total)
    return page, nxt


def get_record(svc: Services, resource_id: str) -> dict[str, Any]:
    stamp = datestamp_column().label("stamp")
    with svc.catalog.read() as session:
        row = session.execute(select(Resource, stamp).where(Resource.id == resource_id, _is_record())).first()
        if row is None:
            raise OaiError("idDoesNotExist", "no such record")
        return _record(session, row[0], row[1], True)


# -- resumption tokens: the next page's Query, signed so it cannot be forged or edited --------
def encode_token(svc: Services, query: Query) -> str:
    payload = json.dumps([query.verb, query.prefix, query.start and format_date(query.start),
                          query.end and format_date(query.end), query.set_spec, query.after, query.cursor,
                          query.total], separators=(",", ":")).encode()
    body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{body}.{_sign(svc, body)}"


def decode_token(svc: Services, token: str, verb: str) -> Query:
    body, _, signature = token.partition(".")
    if not body or not hmac.compare_digest(signature, _sign(svc, body)):
        raise OaiError("badResumptionToken", "the resumptionToken is invalid or expired")
    try:
        v, prefix, start, end, set_spec, after, cursor, total = json.loads(
            base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, TypeError):
        raise OaiError("badResumptionToken", "the resumptionToken is damaged") from None
    if v != verb:
        raise OaiError("badResumptionToken", f"this resumptionToken belongs to {v}")
    return Query(v, prefix, start and parse_date(start)[0], end and parse_date(end)[0], set_spec, after,
                 cursor, total)


def _sign(svc: Services, body: str) -> str:
    key = hashlib.sha256(b"oai-token\0" + svc.secret_key().encode()).digest()
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()[:32]
