"""What a resumable upload will be filed with: the fields sent at creation, plus for folder
uploads what the folder path says (the same reading as the CLI bulk import).

A folder upload sends each file's path relative to the chosen folder
(`初中/数学/人教版/八年级/上册/第十一章 三角形/xx.pptx`). Its folders and file stem go through
`PathMapper` and `merge_metadata` exactly as `repo-server import` reads a tree; the fields
the uploader typed for the whole batch win over what the path suggests (they were chosen on
purpose), tags are the union of both. Everything is validated here, at creation, so an
upload with bad metadata is refused before its bytes are sent.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Mapping

from repo_server.catalog.vocab import VocabIndex
from repo_server.errors import DangerousFile, InvalidInput
from repo_server.ingest import clean_filename, extension_of
from repo_server.ingest.formats import DANGEROUS_EXTENSIONS

from .fields import parse_metadata, split_tags
from .import_paths import PathMapper, is_junk
from .import_sidecar import merge_metadata

__all__ = ["UploadPlan", "plan_upload", "family_type"]

_TRUE = {"1", "true", "yes", "on"}
_IGNORED = ("filetype",)   # tus clients (tus-js-client, Uppy) add the MIME type on their own


@dataclass
class UploadPlan:
    """The validated description of an upload, kept in its info file until it is filed."""

    filename: str
    relative_path: str = ""              # "" for single files
    fields: dict[str, Any] = field(default_factory=dict)   # raw values for resources.ingest
    allow_duplicate: bool = False
    warnings: list[str] = field(default_factory=list)


def _relative_parts(raw: str) -> list[str]:
    text = unicodedata.normalize("NFC", raw).replace("\\", "/")
    parts = [p.strip() for p in text.split("/") if p.strip() not in ("", ".")]
    if any(p == ".." for p in parts):
        raise InvalidInput(f"the relative path {raw!r} climbs directories ('..')",
                           field="relative_path", reason="path_climbs")
    if not parts:
        raise InvalidInput("the relative path is empty", field="relative_path", reason="path_empty")
    return parts


def plan_upload(vocab: VocabIndex, metadata: Mapping[str, str]) -> UploadPlan:
    """Validate Upload-Metadata (already decoded) into an UploadPlan, or raise InvalidInput /
    DangerousFile with the same messages a plain upload gets."""
    meta = dict(metadata)
    relative = meta.pop("relative_path", None) or meta.pop("relativePath", None) or ""
    meta.pop("relativePath", None)
    given_name = meta.pop("filename", None) or meta.pop("name", None)
    meta.pop("name", None)
    allow_duplicate = meta.pop("allow_duplicate", "").strip().lower() in _TRUE
    for key in _IGNORED:
        meta.pop(key, None)
    explicit = {k: v for k, v in meta.items() if v.strip() != ""}
    parts = _relative_parts(relative) if relative else []
    filename = clean_filename(parts[-1] if parts else given_name)
    if extension_of(filename) in DANGEROUS_EXTENSIONS:
        raise DangerousFile(f"{filename}: .{extension_of(filename)} files can run programs and "
                            "are not accepted", field="filename", reason="dangerous_extension",
                            filename=filename, extension=extension_of(filename))
    plan = UploadPlan(filename=filename, relative_path="/".join(parts),
                      allow_duplicate=allow_duplicate)
    if len(parts) > 1:
        if any(is_junk(p.encode()) for p in parts):
            raise InvalidInput(f"{plan.relative_path}: hidden or system files (.DS_Store, "
                               "Thumbs.db, ~$ lock files) are not resources", field="relative_path",
                               reason="junk_file")
        plan.fields, plan.warnings = _from_path(vocab, parts, explicit)
    else:
        plan.fields = explicit
    parse_metadata(plan.fields, vocab)  # every problem at once, before any byte is sent
    return plan


def _from_path(vocab: VocabIndex, parts: list[str], explicit: dict[str, str]
               ) -> tuple[dict[str, Any], list[str]]:
    meta = PathMapper(vocab).map(parts[:-1], PurePosixPath(parts[-1]).stem or parts[-1])
    typed = {k: v for k, v in explicit.items() if k != "tags"}
    raw, warnings = merge_metadata(vocab, {}, meta, typed)
    tags = split_tags([*raw.get("tags", []), explicit.get("tags", "")])
    if tags:
        raw["tags"] = tags
    return raw, meta.warnings + warnings


def family_type(vocab: VocabIndex, family: str) -> str | None:
    """The 资源类型 code a format family implies (presentation → 课件), as the import does."""
    term = PathMapper(vocab).family_type(family)
    return term.code if term is not None else None
