"""Which media job an upload needs, and which derivatives each kind of job makes.

Decided from the sniffed content (family and MIME type), never from the name alone: a
renamed file gets the job its bytes call for. The file name only tells LibreOffice which
import filter to try first (blob files have no meaningful name).
"""

from __future__ import annotations

from repo_server.ingest import extension_of
from repo_server.ingest.formats import OFFICE_FAMILIES

__all__ = ["job_kind", "office_suffix", "KIND_PROFILES", "DERIVATIVE_PROFILES", "THUMBNAIL", "PAGES"]

THUMBNAIL = "thumbnail"
PAGES = "pages"

# Every profile a kind of job can make (a "video" upload that holds only sound gets `audio`).
KIND_PROFILES = {
    "video": ("poster", THUMBNAIL, "video-360p", "storyboard", "video-720p", "audio"),
    "audio": ("audio",),
    "pdf": (PAGES, THUMBNAIL),
    "office": (PAGES, THUMBNAIL),
    "image": (THUMBNAIL,),
    "epub": ("cover", THUMBNAIL, "contents"),
}

DERIVATIVE_PROFILES = tuple(dict.fromkeys(p for profiles in KIND_PROFILES.values() for p in profiles))

_OOXML = "application/vnd.openxmlformats-officedocument."
_SUFFIX_BY_MIME = {
    "application/msword": "doc",
    _OOXML + "wordprocessingml.document": "docx",
    "application/vnd.ms-powerpoint": "ppt",
    _OOXML + "presentationml.presentation": "pptx",
    _OOXML + "presentationml.slideshow": "ppsx",
    "application/vnd.ms-excel": "xls",
    _OOXML + "spreadsheetml.sheet": "xlsx",
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.presentation": "odp",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "application/rtf": "rtf",
    "text/rtf": "rtf",
    "text/csv": "csv",
}
_UNRENDERABLE_IMAGES = {"image/svg+xml", "image/vnd.microsoft.icon", "image/x-icon"}


def job_kind(family: str, mime: str) -> str | None:
    """The media job for content of this family and MIME type, or None when it needs none
    (archives, Flash, plain text, web pages: the original is all there is)."""
    if family in ("video", "audio"):
        return family  # the probe decides in the end: an .ogg may hold video, an .mp4 only sound
    if mime == "application/pdf":
        return "pdf"
    if family in OFFICE_FAMILIES:
        return "office"
    if family == "ebook":
        return "epub" if mime == "application/epub+zip" else None
    if family == "image" and mime not in _UNRENDERABLE_IMAGES:
        return "image"
    return None


def office_suffix(filename: str, mime: str) -> str:
    """The extension LibreOffice should see: the file's own when it has one, else one that
    matches its content."""
    return extension_of(filename) or _SUFFIX_BY_MIME.get(mime, "bin")
