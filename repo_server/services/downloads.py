"""Downloads: what to send for a resource (after the permission check) and counting them.

Counting rule: one event per real download. The web layer calls `record_download` only for
a request that asks for the start of the file (no Range, or a Range from byte 0), and this
module ignores a repeat by the same user or address for the same file within 30 seconds
(download managers and video players open several connections). Crawlers and scripts are
recorded but flagged, so statistics can leave them out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from repo_server.catalog.base import utcnow
from repo_server.catalog.models import DownloadEvent, Resource
from repo_server.ingest.formats import ACTIVE_MIMES

from .actor import Actor
from .context import Services
from .permissions import require_view

__all__ = ["DownloadTarget", "download_target", "record_download", "is_bot", "REPEAT_WINDOW"]

REPEAT_WINDOW = timedelta(seconds=30)
_BOTS = re.compile(r"bot|crawl|spider|slurp|archiver|curl|wget|python-requests|httpx|"
                   r"go-http-client|java/|libwww|scrapy|headless", re.IGNORECASE)


@dataclass(frozen=True)
class DownloadTarget:
    resource_id: str
    sha256: str
    size: int
    mime: str
    filename: str
    active: bool       # HTML/SVG/XML/Flash: attachment only
    last_modified: datetime
    profile: str = ""  # "" = the original


def download_target(svc: Services, actor: Actor, resource_id: str) -> DownloadTarget:
    """The original file of a resource the actor may see (NotFound otherwise)."""
    with svc.catalog.read() as session:
        r = require_view(actor, session.get(Resource, resource_id),
                         public_access=svc.settings.public_access)
        return DownloadTarget(resource_id=r.id, sha256=r.blob_sha256, size=r.blob.size,
                              mime=r.blob.mime, filename=r.filename,
                              active=r.blob.mime in ACTIVE_MIMES,
                              last_modified=r.blob.created_at)


def is_bot(user_agent: str) -> bool:
    return not user_agent.strip() or bool(_BOTS.search(user_agent))


def record_download(svc: Services, actor: Actor, target: DownloadTarget, *, client: str,
                    user_agent: str) -> bool:
    """Record one download event unless it repeats one seen within REPEAT_WINDOW."""
    now = utcnow()
    with svc.catalog.write() as session:
        who = (DownloadEvent.user_id == actor.user_id) if actor.user_id is not None \
            else (DownloadEvent.client == client)
        recent = session.scalar(select(DownloadEvent.id).where(
            DownloadEvent.resource_id == target.resource_id,
            DownloadEvent.profile == target.profile, who,
            DownloadEvent.at > now - REPEAT_WINDOW).limit(1))
        if recent is not None:
            return False
        bot = is_bot(user_agent)
        session.add(DownloadEvent(resource_id=target.resource_id, profile=target.profile,
                                  user_id=actor.user_id, org_id=actor.org_id, at=now,
                                  client=client[:64], user_agent=user_agent[:300], is_bot=bot))
        if not bot:  # what "most downloaded" sorts by: people, not crawlers
            session.execute(update(Resource).where(Resource.id == target.resource_id)
                            .values(download_count=Resource.download_count + 1))
    return True
