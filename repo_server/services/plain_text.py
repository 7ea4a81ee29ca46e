"""Names typed on the administration pages (people, organisations, vocabulary terms) are
plain text, by the same rule as resource metadata (services/fields.py): NFC, no control
characters, no tag-shaped markup. They are escaped on output anyway; refusing markup tells
the person at once that "<b>语文</b>" is not a name."""

from __future__ import annotations

import unicodedata

from repo_server.errors import InvalidInput

from .fields import _MARKUP  # the one definition of "markup"

__all__ = ["plain_name"]


def plain_name(value: str, *, field: str) -> str:
    """`value` normalised, or InvalidInput (reason "markup") when it is not plain text."""
    text = unicodedata.normalize("NFC", value or "").strip()
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text) or _MARKUP.search(text):
        raise InvalidInput(f"{field} must be plain text (no markup or control characters)",
                           field=field, reason="markup")
    return text
