"""Small helpers shared by test modules (fixtures live in conftest.py files)."""

from __future__ import annotations

import re
from urllib.parse import unquote

__all__ = ["filename_star"]


def filename_star(header: str) -> str:
    """The decoded RFC 5987 `filename*` of a Content-Disposition header."""
    match = re.search(r"filename\*=UTF-8''([^;\s]+)", header)
    assert match, header
    return unquote(match.group(1))
