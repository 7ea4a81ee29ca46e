"""Content-Disposition for a download (RFC 6266), shared by every way a file leaves.

The exact name (Chinese, with spaces) goes in `filename*=` (RFC 5987), which every current
browser uses; `filename=` carries an ASCII fallback for very old clients, readable where the
name has Latin letters and "download.<ext>" where it has none.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

__all__ = ["content_disposition"]

_UNSAFE_ASCII = re.compile(r'[^A-Za-z0-9 !#$&\'()+,\-.;=@\[\]^_`{}~]')


def content_disposition(filename: str, inline: bool = False) -> str:
    """Content-Disposition per RFC 6266: an ASCII `filename=` fallback for old clients and
    the exact UTF-8 name in `filename*=` (RFC 5987), e.g. for 勾股定理.pptx."""
    name = "".join(ch for ch in filename if unicodedata.category(ch)[0] != "C")
    name = name.replace("/", "_").replace("\\", "_").strip() or "download"
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    fallback = " ".join(_UNSAFE_ASCII.sub("_", folded).split())
    stem, dot, ext = fallback.rpartition(".")
    if not any(ch.isalnum() for ch in (stem if dot else fallback)):
        fallback = f"download.{ext}" if dot and ext.isalnum() else "download"
    encoded = quote(name, safe="!#$&+-.^_`|~")
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"

