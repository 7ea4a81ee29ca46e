"""Upstream visibility: downstream mirrors report how their syncs went, administrators
and editors see them beside this server's own status as a mirror.

- **Reporting.** Any logged-in account may report (the sync script uses an API token; a
  school mirror gets a teacher account of its school from its county, docs/mirrors.md). The
  first report under a name makes that account the name's owner: later reports under the
  name from another account are refused (a typo in REPO_MIRROR_NAME must not overwrite
  another school's row), except from an administrator. Each report replaces the row.
- **Seeing.** Administrators see every mirror; editors the mirrors whose reporting account
  belongs to their organisation or one below it (a county's editor sees the county's
  schools); teachers none. Whoever sees a mirror may remove it (a school that closed or
  moved to another upstream); a mirror that reports again simply reappears. Each mirror's lag is given twice: in serials behind what this
  server publishes now (the publisher's CURRENT), and as the time since its last success,
  which is what tells a silent, dead mirror apart (REPO_MIRROR_STALE_HOURS).
- **This server as a mirror.** The sync script leaves `<REPO_DATA_DIR>/sync/status.json`
  (the same object it reports upstream); no file means this server is not a mirror, a file
  that cannot be read or checked is shown as such, never as an error page.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Select, delete, false, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from repo_server.catalog.base import utcnow
from repo_server.catalog.models import MirrorReport, Organisation, User
from repo_server.errors import AuthenticationRequired, InvalidInput, NotFound, PermissionDenied
from repo_server.sync import ManifestError, MirrorTree

from .actor import Actor
from .context import Services
from .mirror_status import SyncStatus, iso, parse_status

__all__ = ["record_report", "list_mirrors", "remove_mirror", "local_mirror_status", "published_serial",
           "status_path", "STATUS_MAX_BYTES"]

STATUS_MAX_BYTES = 64 * 1024   # a status object is a few hundred bytes; a report body too


def status_path(svc: Services) -> Path:
    """Where the sync script leaves this server's own status as a mirror."""
    return svc.settings.data_dir / "sync" / "status.json"


def _columns(status: SyncStatus) -> dict[str, Any]:
    values = asdict(status)
    values["chain"] = json.dumps(list(status.chain), ensure_ascii=False)
    return values


def record_report(svc: Services, actor: Actor, payload: Any, remote_addr: str) -> dict[str, Any]:
    """Check a mirror's status object and keep it as that mirror's latest report; returns
    what was stored. Nothing is stored when anything is refused."""
    if actor.anonymous or actor.user_id is None:
        raise AuthenticationRequired("report with an API token", reason="login")
    status = parse_status(payload)
    now = utcnow()
    values = dict(_columns(status), reported_at=now, remote_addr=(remote_addr or "")[:64])
    with svc.catalog.write() as session:
        # Two first reports under one name race: one insert wins, the other does nothing
        # and finds the winner's row below (locked until commit on PostgreSQL).
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(insert(MirrorReport).values(user_id=actor.user_id, **values)
                        .on_conflict_do_nothing(index_elements=["name"]))
        row = session.scalars(select(MirrorReport).where(MirrorReport.name == status.name)
                              .with_for_update(of=MirrorReport).execution_options(populate_existing=True)).one()
        if row.user_id != actor.user_id and not actor.is_admin:
            raise PermissionDenied(f"the mirror {status.name!r} reports with another account; choose "
                                   "another REPO_MIRROR_NAME or ask an administrator",
                                   field="name", reason="mirror_owned", name=status.name)
        for key, value in values.items():
            setattr(row, key, value)
        session.flush()
        return _view(row, published_serial(svc), now, svc.settings.mirror_stale_hours)


def published_serial(svc: Services) -> int | None:
    """The serial this server publishes now (its mirror tree's CURRENT), or None."""
    try:
        current = MirrorTree(svc.settings.mirror_dir).read_current()
    except (ManifestError, OSError):
        return None
    return current.serial if current else None


def _lag(serial: int | None, ahead: int | None, last_success: datetime | None, now: datetime,
         stale_hours: int) -> dict[str, Any]:
    """Serials behind `ahead`, seconds since the last success, and whether that is stale."""
    behind = ahead - serial if serial is not None and ahead is not None and ahead >= serial else None
    since = max(int((now - last_success).total_seconds()), 0) if last_success else None
    stale = since is None or since > stale_hours * 3600
    return {"behind": behind, "since_success_s": since, "stale": stale}


def _view(row: MirrorReport, own_serial: int | None, now: datetime, stale_hours: int) -> dict[str, Any]:
    try:
        chain = json.loads(row.chain)
    except ValueError:
        chain = []
    return {
        "name": row.name, "username": row.user.username,
        "organisation": row.user.org.name if row.user.org else None,
        "upstream": row.upstream, "serial": row.serial, "upstream_serial": row.upstream_serial,
        "result": row.result, "error": row.error, "last_success_at": iso(row.last_success_at),
        "last_attempt_at": iso(row.last_attempt_at), "bytes": row.bytes, "duration_s": row.duration_s,
        "chain": chain, "reported_at": iso(row.reported_at), "remote_addr": row.remote_addr,
        **_lag(row.serial, own_serial, row.last_success_at, now, stale_hours),
    }


def _visible_to(actor: Actor) -> Select:
    """The reports `actor` may see: every one for an administrator, an editor's own
    organisation's subtree (by the reporting account's organisation), nothing for others."""
    if actor.anonymous:
        raise AuthenticationRequired("log in to see the mirrors", reason="login")
    if not actor.is_editor:
        raise PermissionDenied("only editors and administrators see the mirrors",
                               reason="mirrors_editors_only")
    query = select(MirrorReport).join(User, User.id == MirrorReport.user_id)
    if actor.is_admin:
        return query
    if actor.org_id is None:
        return query.where(false())
    return (query.join(Organisation, Organisation.id == User.org_id)
            .where(Organisation.path.startswith(actor.org_path)))


def list_mirrors(svc: Services, actor: Actor, *, now: datetime | None = None) -> dict[str, Any]:
    """The downstream mirrors the actor may see, stale ones first, then the furthest behind;
    with this server's published serial and its own status as a mirror (`local`)."""
    query = _visible_to(actor)
    now = now or utcnow()
    stale_hours, own = svc.settings.mirror_stale_hours, published_serial(svc)
    with svc.catalog.read() as session:
        mirrors = [_view(row, own, now, stale_hours) for row in session.scalars(query)]
    mirrors.sort(key=lambda m: (not m["stale"], -(m["behind"] or 0), m["name"]))
    return {"published_serial": own, "stale_hours": stale_hours, "now": iso(now),
            "stale": sum(m["stale"] for m in mirrors), "mirrors": mirrors,
            "local": local_mirror_status(svc, now=now)}


def remove_mirror(svc: Services, actor: Actor, name: str) -> None:
    """Forget a retired mirror's row (a closed school, one that now syncs from elsewhere).
    Only a mirror the actor sees can be removed; any other name is "not found", so the
    answer does not tell whether another county's mirror exists."""
    query = _visible_to(actor).where(MirrorReport.name == name)
    with svc.catalog.write() as session:
        row = session.scalars(query).one_or_none()
        if row is None:
            raise NotFound(f"no mirror named {name!r} among the mirrors you see", field="name",
                           reason="no_mirror", name=name)
        session.execute(delete(MirrorReport).where(MirrorReport.id == row.id))


def local_mirror_status(svc: Services, *, now: datetime | None = None) -> dict[str, Any] | None:
    """This server's own status as a mirror, from the sync script's status.json: None when
    there is none (not a mirror); `readable` False with the `problem` when it cannot be
    read or is not a valid status object."""
    path = status_path(svc)
    try:
        with open(path, "rb") as handle:
            data = handle.read(STATUS_MAX_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return {"readable": False, "path": str(path), "problem": f"cannot read it: {exc.strerror}"}
    try:
        if len(data) > STATUS_MAX_BYTES:
            raise ValueError(f"larger than {STATUS_MAX_BYTES} bytes")
        status = parse_status(json.loads(data.decode("utf-8")))
    except InvalidInput as exc:
        return {"readable": False, "path": str(path), "problem": exc.message}
    except ValueError as exc:   # not UTF-8, not JSON (or cut short while written)
        return {"readable": False, "path": str(path), "problem": f"not a JSON status object: {exc}"}
    now = now or utcnow()
    view = asdict(status)
    view.update(readable=True, path=str(path), chain=list(status.chain),
                last_success_at=iso(status.last_success_at), last_attempt_at=iso(status.last_attempt_at),
                **_lag(status.serial, status.upstream_serial, status.last_success_at, now,
                       svc.settings.mirror_stale_hours))
    return view

