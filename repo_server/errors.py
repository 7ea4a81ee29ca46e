"""The errors every layer raises, so that the web and CLI turn them into clear messages.

Each error has a stable machine `code` (clients branch on it), a human `message` and, where
it helps, the `field` at fault and `details`. Mapping to HTTP statuses lives in the web
layer; mapping to exit codes in the CLI. Nothing here knows about either.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "RepoError", "ConfigError", "NotFound", "PermissionDenied", "AuthenticationRequired",
    "InvalidInput", "UnknownTerm", "Duplicate", "RejectedFile", "EmptyFile", "DangerousFile",
    "UnsupportedType", "ExtensionMismatch", "TooLarge", "IncompleteUpload", "StorageError",
]


class RepoError(Exception):
    """Base of every expected failure: carries a code, a message and optional details."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        body.update(self.details)
        return body


class ConfigError(RepoError):
    """The configuration is wrong; the operator must fix a setting."""

    code = "config"


class NotFound(RepoError):
    code = "not_found"


class PermissionDenied(RepoError):
    code = "forbidden"


class AuthenticationRequired(RepoError):
    code = "unauthenticated"


class InvalidInput(RepoError):
    """A metadata value is malformed (too long, markup, control characters, bad choice)."""

    code = "invalid"


class UnknownTerm(InvalidInput):
    """A vocabulary field names no known term or alias; `details['suggestions']` may help."""

    code = "unknown_term"


class Duplicate(RepoError):
    """The same bytes are already in the library; `details['existing']` names the resource."""

    code = "duplicate"


class RejectedFile(RepoError):
    """The file itself is refused; nothing was stored."""

    code = "rejected_file"


class EmptyFile(RejectedFile):
    code = "empty_file"


class DangerousFile(RejectedFile):
    """Executables and scripts, by content or by name."""

    code = "dangerous_file"


class UnsupportedType(RejectedFile):
    """Content of a type the library does not keep (unknown binary, unrecognised data)."""

    code = "unsupported_type"


class ExtensionMismatch(RejectedFile):
    """The filename claims one kind of file, the content is another."""

    code = "extension_mismatch"


class TooLarge(RejectedFile):
    code = "too_large"


class IncompleteUpload(RejectedFile):
    """The upload ended before its declared end (client aborted, link dropped)."""

    code = "incomplete_upload"


class StorageError(RepoError):
    """The blob store failed (disk full, S3 unreachable): retry later, nothing was recorded."""

    code = "storage"
