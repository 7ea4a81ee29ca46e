"""Making an uploaded file name safe to keep, show and send back.

Names never become storage keys (blobs are keyed by sha256), but they are shown to teachers
and returned in Content-Disposition, so they are cleaned: Unicode NFC, no control
characters, no directories. A name that tries to climb directories ("../../etc/passwd") is
refused outright rather than quietly repaired, because it means the client is hostile or
broken. Full Windows paths, which old Internet Explorer sends, are reduced to the last part.
"""

from __future__ import annotations

import unicodedata

from repo_server.errors import InvalidInput

__all__ = ["clean_filename", "MAX_FILENAME_BYTES"]

MAX_FILENAME_BYTES = 255


def clean_filename(raw: str | None) -> str:
    """Return a safe display name for an uploaded file, or raise InvalidInput."""
    if raw is None or not raw.strip():
        raise InvalidInput("the file has no name", field="filename", reason="filename_missing")
    name = unicodedata.normalize("NFC", raw)
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise InvalidInput("the file name contains control characters", field="filename",
                           reason="control_chars")
    parts = name.replace("\\", "/").split("/")
    if any(part.strip() == ".." for part in parts):
        raise InvalidInput(f"the file name {raw!r} tries to climb directories ('..'); "
                           "send the bare file name", field="filename", reason="filename_climbs")
    name = parts[-1].strip()
    if name in {"", "."}:
        raise InvalidInput(f"the file name {raw!r} names a directory, not a file", field="filename",
                           reason="filename_directory")
    return _truncate(name)


def _truncate(name: str) -> str:
    """Shorten to 255 UTF-8 bytes, keeping the extension (Chinese titles are long)."""
    if len(name.encode()) <= MAX_FILENAME_BYTES:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext) > 16:
        stem, ext = name, ""
    suffix = f".{ext}" if ext else ""
    budget = MAX_FILENAME_BYTES - len(suffix.encode())
    encoded = stem.encode()[:budget]
    return encoded.decode("utf-8", "ignore") + suffix
