"""Numbers for the statistics dashboard and /api/v1/stats: downloads per day, per subject,
per organisation, top resources; the library by format and type; uploads per month.

Rules:
- Bots are left out of every download number (events flagged `is_bot` at download time).
- Days and months are China Standard Time (UTC+8, no daylight saving): a download at 07:00
  in the morning belongs to that day, not to yesterday's UTC date. Grouping happens in SQL
  (a year of a district's downloads is millions of rows), with one expression per backend.
- Days without downloads are filled with zeros, so charts show gaps as gaps.
- Scope follows the permission rule: administrators see the whole district (visitors
  included); an editor sees downloads *made by* people of their organisation and the ones
  below it (what the schools they look after use), and the library counts of resources
  *belonging* to that subtree. Top resources list only titles the asker may see.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import ColumnElement, String, and_, false, func, literal_column, select, true
from sqlalchemy.orm import Session

from repo_server.catalog.base import utcnow
from repo_server.catalog.models import DownloadEvent, Organisation, Resource, VocabTerm
from repo_server.errors import InvalidInput

from .actor import Actor
from .context import Services
from .permissions import require_uploader, visible_clause

__all__ = ["statistics", "PERIODS", "LOCAL_OFFSET", "TOP"]

PERIODS = (30, 90, 365)
LOCAL_OFFSET = timedelta(hours=8)  # China Standard Time
TOP = 10
MONTHS = 12


def _local_text(session: Session, column, pattern: str) -> ColumnElement[str]:
    """`column` (UTC) shifted to local time and formatted: pattern "day" or "month".

    Constants are written into the SQL (no bound parameters): PostgreSQL would otherwise
    see the SELECT and GROUP BY expressions as different ($1 is not $4)."""
    minutes = int(LOCAL_OFFSET.total_seconds() // 60)
    if session.get_bind().dialect.name == "sqlite":
        fmt = "%Y-%m-%d" if pattern == "day" else "%Y-%m"
        return func.strftime(literal_column(f"'{fmt}'"), column,
                             literal_column(f"'{minutes:+d} minutes'"), type_=String)
    fmt = "YYYY-MM-DD" if pattern == "day" else "YYYY-MM"
    shifted = func.timezone(literal_column("'UTC'"), column) + literal_column(f"interval '{minutes} minutes'")
    return func.to_char(shifted, literal_column(f"'{fmt}'"), type_=String)


def _local_today(now: datetime) -> date:
    return (now.astimezone(timezone.utc) + LOCAL_OFFSET).date()


def _local_midnight_utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc) - LOCAL_OFFSET


def _subtree_ids(actor: Actor):
    return select(Organisation.id).where(Organisation.path.startswith(actor.org_path))


def _event_scope(actor: Actor) -> ColumnElement[bool]:
    if actor.is_admin:
        return true()
    if actor.org_id is None:
        return false()
    return DownloadEvent.org_id.in_(_subtree_ids(actor))


def _resource_scope(actor: Actor) -> ColumnElement[bool]:
    live = Resource.deleted_at.is_(None)
    if actor.is_admin:
        return live
    if actor.org_id is None:
        return false()
    return and_(live, Resource.org_id.in_(_subtree_ids(actor)))


def _months_back(today: date, count: int) -> list[str]:
    year, month, out = today.year, today.month, []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return out[::-1]


def statistics(svc: Services, actor: Actor, days: int = 30, *, now: datetime | None = None) -> dict[str, Any]:
    """Everything the dashboard shows, for the last `days` days (today included)."""
    require_uploader(actor)
    if days not in PERIODS:
        raise InvalidInput(f"days must be one of {', '.join(map(str, PERIODS))}", field="days",
                           reason="period")
    today = _local_today(now or utcnow())
    first = today - timedelta(days=days - 1)
    since = _local_midnight_utc(first)
    people = and_(DownloadEvent.at >= since, DownloadEvent.is_bot.is_(False), _event_scope(actor))
    with svc.catalog.read() as session:
        day = _local_text(session, DownloadEvent.at, "day")
        per_day = dict(session.execute(select(day, func.count()).where(people).group_by(day)).all())
        bots = session.scalar(select(func.count()).select_from(DownloadEvent).where(
            DownloadEvent.at >= since, DownloadEvent.is_bot.is_(True), _event_scope(actor)))
        result = {
            "days": days, "first_day": first.isoformat(), "last_day": today.isoformat(),
            "scope": _scope(session, actor),
            "downloads": sum(per_day.values()), "bot_downloads": bots or 0,
            "per_day": [{"day": d, "downloads": per_day.get(d, 0)}
                        for d in ((first + timedelta(days=i)).isoformat() for i in range(days))],
            "per_subject": _per_subject(session, people),
            "per_organisation": _per_organisation(session, people, actor),
            "top_resources": _top_resources(session, people, actor, svc.settings.public_access),
            "library": _library(session, actor, today),
        }
    return result


def _scope(session: Session, actor: Actor) -> dict[str, Any]:
    if actor.is_admin:
        return {"kind": "district", "org_id": None, "org_name": None}
    org = session.get(Organisation, actor.org_id) if actor.org_id is not None else None
    return {"kind": "organisation", "org_id": actor.org_id, "org_name": org.name if org else None}


def _per_subject(session: Session, people) -> list[dict[str, Any]]:
    rows = session.execute(
        select(VocabTerm.code, VocabTerm.name, func.count().label("n"))
        .select_from(DownloadEvent).join(Resource, Resource.id == DownloadEvent.resource_id)
        .outerjoin(VocabTerm, VocabTerm.id == Resource.subject_id)
        .where(people).group_by(VocabTerm.code, VocabTerm.name)).all()
    return sorted(({"code": code, "name": name, "downloads": n} for code, name, n in rows),
                  key=lambda r: (-r["downloads"], r["name"] is None, r["name"] or ""))


def _per_organisation(session: Session, people, actor: Actor) -> list[dict[str, Any]]:
    """Downloads by the downloader's organisation at the time; `kind` "visitor" for people
    not logged in, "none" for accounts without an organisation."""
    rows = session.execute(
        select(DownloadEvent.org_id, Organisation.name, Organisation.kind,
               DownloadEvent.user_id.is_(None).label("visitor"), func.count().label("n"))
        .select_from(DownloadEvent).outerjoin(Organisation, Organisation.id == DownloadEvent.org_id)
        .where(people).group_by(DownloadEvent.org_id, Organisation.name, Organisation.kind,
                                DownloadEvent.user_id.is_(None))).all()
    merged: dict[tuple, dict[str, Any]] = {}
    for org_id, name, kind, visitor, n in rows:
        if org_id is not None:
            key, row = ("org", org_id), {"id": org_id, "name": name, "kind": kind}
        elif visitor:
            key, row = ("visitor",), {"id": None, "name": None, "kind": "visitor"}
        else:
            key, row = ("none",), {"id": None, "name": None, "kind": "none"}
        merged.setdefault(key, {**row, "downloads": 0})["downloads"] += n
    return sorted(merged.values(), key=lambda r: (-r["downloads"], r["name"] or ""))


def _top_resources(session: Session, people, actor: Actor, public_access: bool) -> list[dict[str, Any]]:
    n = func.count().label("n")
    rows = session.execute(
        select(Resource.id, Resource.title, Resource.download_count, n)
        .select_from(DownloadEvent).join(Resource, Resource.id == DownloadEvent.resource_id)
        .where(people, visible_clause(actor, public_access=public_access))
        .group_by(Resource.id, Resource.title, Resource.download_count)
        .order_by(n.desc(), Resource.title).limit(TOP)).all()
    return [{"id": rid, "title": title, "downloads": count, "all_time": total}
            for rid, title, total, count in rows]


def _library(session: Session, actor: Actor, today: date) -> dict[str, Any]:
    scope = _resource_scope(actor)
    total = session.scalar(select(func.count()).select_from(Resource).where(scope)) or 0
    all_time = session.scalar(select(func.coalesce(func.sum(Resource.download_count), 0)).where(scope))
    by_format = session.execute(select(Resource.format, func.count()).where(scope)
                                .group_by(Resource.format)).all()
    by_type = session.execute(
        select(VocabTerm.code, VocabTerm.name, func.count()).select_from(Resource)
        .outerjoin(VocabTerm, VocabTerm.id == Resource.type_id).where(scope)
        .group_by(VocabTerm.code, VocabTerm.name)).all()
    months = _months_back(today, MONTHS)
    month = _local_text(session, Resource.created_at, "month")
    uploads = dict(session.execute(
        select(month, func.count()).where(
            scope, Resource.created_at >= _local_midnight_utc(date.fromisoformat(months[0] + "-01")))
        .group_by(month)).all())
    return {
        "resources": total, "downloads_all_time": int(all_time or 0),
        "by_format": sorted(({"format": f or "", "count": c} for f, c in by_format),
                            key=lambda r: (-r["count"], r["format"])),
        "by_type": sorted(({"code": code, "name": name, "count": c} for code, name, c in by_type),
                          key=lambda r: (-r["count"], r["name"] is None, r["name"] or "")),
        "uploads_per_month": [{"month": m, "uploads": uploads.get(m, 0)} for m in months],
    }

