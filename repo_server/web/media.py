"""HTTP for derivatives and media jobs: rendition, preview and page-image files (same
permission checks, Range and ETag as originals), the storyboard's WebVTT, and retry/cancel
of a resource's job for the editors who may change it."""

from __future__ import annotations

from flask import Response, current_app, jsonify, request, url_for

from repo_server.services import media_jobs
from repo_server.services.derivatives import derivative_meta, derivative_target
from repo_server.services.resources import get_resource
from repo_server.transcode.video import StoryboardPlan, storyboard_vtt

from .api import bp, send_target, with_links
from .auth import current_actor

__all__ = ["derivative", "derivative_page", "storyboard_vtt_file", "media_action"]

# Downloading one of these is a download of the lesson; looking at a poster or a page is not.
_COUNTED = {"video-360p", "video-720p", "audio"}


def _svc():
    return current_app.extensions["repo"]


@bp.route("/resources/<resource_id>/derivatives/<profile>", methods=["GET", "HEAD"])
def derivative(resource_id: str, profile: str):
    """A derivative's file, inline (players, <img>) unless `?download=1`."""
    download = request.args.get("download", "").lower() in {"1", "true", "yes"}
    target = derivative_target(_svc(), current_actor(), resource_id, profile)
    return send_target(target, inline=not download, count=download and profile in _COUNTED)


@bp.route("/resources/<resource_id>/derivatives/pages/<int:number>", methods=["GET", "HEAD"])
def derivative_page(resource_id: str, number: int):
    target = derivative_target(_svc(), current_actor(), resource_id, "pages", page=number)
    return send_target(target, inline=True, count=False)


@bp.get("/resources/<resource_id>/derivatives/storyboard.vtt", endpoint="storyboard_vtt")
def storyboard_vtt_file(resource_id: str):
    """Seek previews as WebVTT: cues pointing into the storyboard sprite (`#xywh=`)."""
    plan = StoryboardPlan.from_meta(derivative_meta(_svc(), current_actor(), resource_id, "storyboard"))
    sprite = url_for("api.derivative", resource_id=resource_id, profile="storyboard")
    response = Response(storyboard_vtt(plan, sprite), mimetype="text/vtt")
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.post("/resources/<resource_id>/media/<action>")
def media_action(resource_id: str, action: str):
    """`retry` a failed job or `cancel` a queued or running one; answers the resource."""
    svc, actor = _svc(), current_actor()
    media_jobs.hand_over(svc, media_jobs.queued_for_actor_action(svc, actor, resource_id, action))
    return jsonify(with_links(get_resource(svc, actor, resource_id)))
