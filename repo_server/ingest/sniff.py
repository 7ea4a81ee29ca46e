"""What a file really is, from its content, and whether the library accepts it.

libmagic names the content; the filename's extension is only a claim, checked against it.
Policy, in order:
1. empty files are refused;
2. executables and scripts are refused, whether the content or the name gives them away;
3. content libmagic cannot place in a family the library keeps is refused as unsupported;
4. a known extension that contradicts the content ("video.mp4" holding text) is refused;
   within Office the containers are interchangeable (a .ppt saved as OOXML, a .wps that is
   OLE2, an encrypted .docx that is an OLE2 envelope) because real libraries are full of them.
Zip containers are looked into (central directory only, nothing is decompressed) to tell
OOXML, EPUB and ODF from plain archives. Each refusal carries a `reason` and the name,
extension and types it is about, so the pages can explain it in the visitor's language.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import magic

from repo_server.errors import DangerousFile, EmptyFile, ExtensionMismatch, UnsupportedType

from .formats import (ACTIVE_MIMES, DANGEROUS_EXTENSIONS, DANGEROUS_MIMES, EXTENSION_FAMILY,
                      EXTENSION_MIME, FAMILY_LABELS, MIME_FAMILY, OFFICE_CONTAINERS, OFFICE_FAMILIES)

__all__ = ["Sniffed", "sniff", "check_acceptable", "extension_of"]


@dataclass(frozen=True)
class Sniffed:
    mime: str        # from the content, refined by the extension inside one family
    family: str      # document, presentation, spreadsheet, video, audio, image, ebook, …
    extension: str   # lower-case, without the dot; "" when the name has none
    active: bool     # HTML/SVG/XML/Flash: only ever served as an attachment


def extension_of(filename: str) -> str:
    suffix = PurePosixPath(filename.replace("\\", "/")).suffix
    return suffix[1:].lower() if suffix else ""


def _libmagic(head: bytes) -> str:
    return magic.from_buffer(head, mime=True) or "application/octet-stream"


def _look_into_zip(path: Path | None) -> str | None:
    """Refine application/zip by the container's own markers; None when it is a plain zip."""
    if path is None:
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist()[:2000])
            if "mimetype" in names:
                declared = archive.read("mimetype")[:100].decode("ascii", "replace").strip()
                if declared == "application/epub+zip" or declared.startswith(
                        "application/vnd.oasis.opendocument"):
                    return declared
            if "[Content_Types].xml" in names:
                for prefix, mime in (
                        ("word/", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
                        ("ppt/", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
                        ("xl/", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")):
                    if any(name.startswith(prefix) for name in names):
                        return mime
    except (zipfile.BadZipFile, OSError, KeyError, ValueError):
        return None
    return None


def sniff(head: bytes, filename: str, path: Path | None = None) -> Sniffed:
    """Classify content. `head` is the first bytes, `path` the full staged file (optional)."""
    extension = extension_of(filename)
    mime = _libmagic(head)
    if mime == "application/zip":
        mime = _look_into_zip(path) or mime
    family = MIME_FAMILY.get(mime, "")
    if not family and mime.startswith(("video/", "audio/")):
        family = mime.split("/")[0]
    claimed = EXTENSION_FAMILY.get(extension, "")
    # Inside Office, the extension says which kind (a generic OLE2 .ppt is a presentation).
    if mime in OFFICE_CONTAINERS and claimed in OFFICE_FAMILIES:
        family = claimed
        mime = _refined_mime(extension) or mime
    elif family in {"video", "audio"} and claimed in {"video", "audio"}:
        family = claimed  # audio-only .m4a reported as video/mp4, and the reverse
    elif family == "text" and claimed in {"text", "spreadsheet"} and mime == "text/plain":
        mime = _refined_mime(extension) or mime  # .csv, .srt, .vtt, .md keep their own type
    return Sniffed(mime=mime, family=family, extension=extension, active=mime in ACTIVE_MIMES)


def _refined_mime(extension: str) -> str | None:
    return EXTENSION_MIME.get(extension)


def check_acceptable(head: bytes, size: int, filename: str, path: Path | None = None) -> Sniffed:
    """Sniff and apply the acceptance policy; raise a specific RejectedFile when refused."""
    if size == 0:
        raise EmptyFile(f"{filename or 'the file'} is empty (0 bytes); nothing was stored",
                        reason="empty_file", filename=filename)
    sniffed = sniff(head, filename, path)
    if sniffed.extension in DANGEROUS_EXTENSIONS:
        raise DangerousFile(
            f"{filename}: .{sniffed.extension} files can run programs and are not accepted",
            reason="dangerous_extension", filename=filename, extension=sniffed.extension,
            mime=sniffed.mime)
    if sniffed.mime in DANGEROUS_MIMES:
        raise DangerousFile(
            f"{filename}: the content is a program or script ({sniffed.mime}), which is not "
            "accepted whatever the file is called", reason="dangerous_content", filename=filename,
            mime=sniffed.mime)
    if not sniffed.family:
        raise UnsupportedType(
            f"{filename}: unrecognised content ({sniffed.mime}); the library keeps documents, "
            "presentations, spreadsheets, PDFs, e-books, video, audio, images and archives",
            reason="unsupported_type", filename=filename, mime=sniffed.mime)
    claimed = EXTENSION_FAMILY.get(sniffed.extension)
    if claimed and not _compatible(claimed, sniffed):
        raise ExtensionMismatch(
            f"{filename}: the name says {FAMILY_LABELS[claimed]} (.{sniffed.extension}) but the "
            f"content is {FAMILY_LABELS[sniffed.family]} ({sniffed.mime}); rename or re-export it",
            reason="extension_mismatch", filename=filename, extension=sniffed.extension,
            mime=sniffed.mime, claimed=claimed, detected=sniffed.family)
    return sniffed


def _compatible(claimed: str, sniffed: Sniffed) -> bool:
    if claimed == sniffed.family:
        return True
    if claimed in OFFICE_FAMILIES and sniffed.family in OFFICE_FAMILIES:
        return True  # a .doc that is really .docx opens in every office suite
    if claimed == "ebook" and sniffed.family == "document" and sniffed.mime == "application/pdf":
        return True
    if claimed == "document" and sniffed.family == "text":
        return True  # .rtf/.txt edge cases reported as text
    if claimed == "web" and sniffed.family == "text":
        return True
    return False
