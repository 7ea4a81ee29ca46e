"""The CSV sidecar of a bulk import (per-file metadata that overrides what paths say), and
how it combines with the path-derived metadata (`merge_metadata`).

One row per file: a `path` column (relative to the import folder, "/" separators) and any
metadata field by its name or its Chinese label (title/标题, stage/学段, tags/标签 …).
Spreadsheets made in China arrive in every encoding Excel writes: UTF-8 with or without a
BOM, GBK ("CSV (逗号分隔)" on Chinese Windows, read here as its superset GB18030) and UTF-16
("Unicode 文本", tab-separated), so all of those are read. Problems with the sheet as a
whole (unknown columns, a row without a path, two rows for one file) are refused before
anything is imported; a bad value only fails its own file, when that file is imported.
"""

from __future__ import annotations

import csv
import io
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repo_server.catalog.vocab import VocabIndex
from repo_server.errors import InvalidInput

from .fields import FIELDS, MAX_TAGS, VOCAB_FIELDS, parse_metadata
from .import_paths import SIDECAR_NAME, PathMeta, escaped

__all__ = ["Sidecar", "SidecarRow", "Sidecars", "read_sidecar", "decode_csv", "normalise_path",
           "merge_metadata", "shown_metadata", "PATH_COLUMNS"]

PATH_COLUMNS = ("path", "路径", "文件", "文件路径", "file")
_COLUMNS = {f.name: f.name for f in FIELDS} | {f.label: f.name for f in FIELDS}


@dataclass(frozen=True)
class SidecarRow:
    source: str               # the CSV file, for messages
    line: int                 # 1-based line of the row in that file
    path: str                 # normalised relative path
    values: dict[str, str]    # field name → non-empty value as written


@dataclass
class Sidecar:
    """Rows by normalised path; remembers which rows matched a walked file."""

    source: str
    encoding: str
    rows: dict[str, SidecarRow] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)

    def lookup(self, relative: str) -> SidecarRow | None:
        key = normalise_path(relative)
        row = self.rows.get(key)
        if row is not None:
            self.used.add(key)
        return row

    def unused(self) -> list[SidecarRow]:
        return [row for key, row in self.rows.items() if key not in self.used]


@dataclass
class Sidecars:
    """The sidecars of one import: `--csv` (for every root) and a metadata.csv at each root.
    For a file, the root's row applies first and the `--csv` row over it."""

    shared: Sidecar | None = None
    per_root: dict[bytes, Sidecar] = field(default_factory=dict)
    paths: set[bytes] = field(default_factory=set)   # the sheets themselves: not resources

    @classmethod
    def load(cls, roots: list[bytes], csv: Path | None) -> "Sidecars":
        loaded = cls(read_sidecar(csv) if csv else None)
        if csv:
            loaded.paths.add(os.path.realpath(os.fsencode(csv)))
        for root in roots:
            candidate = os.path.join(root, SIDECAR_NAME)
            if os.path.isfile(candidate):
                loaded.per_root[root] = read_sidecar(Path(os.fsdecode(candidate)),
                                                     display=escaped(candidate))
                loaded.paths.add(candidate)
        return loaded

    def values(self, root: bytes, relative: str) -> dict[str, str]:
        values: dict[str, str] = {}
        for sidecar in (self.per_root.get(root), self.shared):
            row = sidecar.lookup(relative) if sidecar else None
            values.update(row.values if row else {})
        return values

    def unused(self) -> list[SidecarRow]:
        return [row for s in (*self.per_root.values(), self.shared) if s for row in s.unused()]


def normalise_path(text: str) -> str:
    """NFC (names copied from a Mac are NFD), "/" separators, no "./" or leading "/"."""
    parts = unicodedata.normalize("NFC", text).strip().replace("\\", "/").split("/")
    return "/".join(p.strip() for p in parts if p.strip() not in {"", "."})


def decode_csv(data: bytes) -> tuple[str, str]:
    """(text, encoding name) for the encodings spreadsheet programs write."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "UTF-8 (BOM)"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "UTF-16"
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "GB18030"
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the CSV file is neither UTF-8 nor GB18030/GBK (undecodable bytes "
                           f"at offset {exc.start}); save it again as “CSV UTF-8”",
                           field="csv") from None


def _delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", "\t", ";")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _header(names: list[str], source: str) -> list[str | None]:
    """Field name per column (None for the path column); unknown columns are refused."""
    columns: list[str | None] = []
    unknown: list[str] = []
    for raw in names:
        name = unicodedata.normalize("NFC", raw).strip()
        lowered = name.lower()
        if lowered in PATH_COLUMNS or name in PATH_COLUMNS:
            columns.append(None)
        elif lowered in _COLUMNS or name in _COLUMNS:
            columns.append(_COLUMNS.get(lowered) or _COLUMNS[name])
        else:
            unknown.append(name or "(empty)")
            columns.append("")
    if unknown:
        known = ", ".join(f"{f.name}/{f.label}" for f in FIELDS)
        raise InvalidInput(f"{source}: unknown column(s) {', '.join(map(repr, unknown))}; "
                           f"columns are path/路径 and {known}", field="csv")
    if None not in columns:
        raise InvalidInput(f"{source}: no path column; the first row must name the columns, "
                           "one of them path (or 路径)", field="csv")
    if len([c for c in columns if c is not None]) != len({c for c in columns if c is not None}):
        raise InvalidInput(f"{source}: a field appears in two columns", field="csv")
    return columns


def read_sidecar(path: Path, *, display: str | None = None) -> Sidecar:
    """Read and check a whole sidecar; raise InvalidInput for problems of the sheet."""
    source = display or str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {source}: {exc.strerror}", field="csv") from None
    text, encoding = decode_csv(data)
    reader = csv.reader(io.StringIO(text, newline=""),
                        delimiter=_delimiter(text.split("\n", 1)[0]))
    sidecar = Sidecar(source=source, encoding=encoding)
    try:
        header = next(reader, None)
        if header is None:
            raise InvalidInput(f"{source} is empty", field="csv")
        columns = _header(header, source)
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            line = reader.line_num
            if len(cells) > len(columns) and any(c.strip() for c in cells[len(columns):]):
                raise InvalidInput(f"{source} line {line}: more cells than columns", field="csv")
            row_path, values = "", {}
            for column, cell in zip(columns, cells, strict=False):  # short rows: missing cells are empty
                cell = cell.strip()
                if column is None:
                    row_path = normalise_path(cell)
                elif cell:
                    values[column] = cell.replace("|", ";") if column == "tags" else cell
            if not row_path:
                raise InvalidInput(f"{source} line {line}: no path", field="csv")
            if row_path in sidecar.rows:
                raise InvalidInput(f"{source} lines {sidecar.rows[row_path].line} and {line} both "
                                   f"describe {row_path}", field="csv")
            sidecar.rows[row_path] = SidecarRow(source, line, row_path, values)
    except csv.Error as exc:
        raise InvalidInput(f"{source}: not a readable CSV file ({exc})", field="csv") from None
    return sidecar


# -- combining the sources -------------------------------------------------------------------
_LIMITS = {f.name: f.max_length for f in FIELDS}


def merge_metadata(vocab: VocabIndex, base: dict[str, Any], meta: PathMeta,
                   csv_values: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Raw metadata for ingest: `base` (command-line defaults), then what the path says,
    then the CSV row, each overriding the one before; plus warnings.

    Path-derived values never fail a file (paths are not controlled): vocabulary terms go
    in as codes, which always resolve to themselves; text that would not validate (an
    over-long folder name, markup in a file name) is cut to length or left out with a
    warning. CSV values go in as written, so a typo there fails its file with the message.
    """
    raw: dict[str, Any] = dict(base)
    warnings: list[str] = []
    raw.update({scheme: term.code for scheme, term in meta.terms.items()})
    for name in ("title", "chapter", "lesson"):
        value = getattr(meta, name)[:_LIMITS[name]]
        if value and _valid(vocab, name, value, warnings):
            raw[name] = value
    tags = [tag[:_LIMITS["tags"]] for tag in meta.tags]
    tags = [tag for tag in tags if _valid(vocab, "tags", [tag], warnings)][:MAX_TAGS]
    if tags:
        raw["tags"] = tags
    if "grade" in csv_values or "stage" in csv_values:  # the sheet's stage/grade win
        raw.pop("stage", None)
        if ("grade" not in csv_values and "grade" in raw
                and not _grade_fits(vocab, raw["grade"], csv_values["stage"])):
            raw.pop("grade")
    raw.update(csv_values)
    return raw, warnings


def _valid(vocab: VocabIndex, name: str, value: Any, warnings: list[str]) -> bool:
    try:
        parse_metadata({name: value}, vocab)
        return True
    except InvalidInput as exc:
        warnings.append(f"ignored the {name} the path suggests: {exc.message}")
        return False


def _grade_fits(vocab: VocabIndex, grade_code: str, stage_text: str) -> bool:
    try:
        stage = vocab.find_exact("stage", stage_text)
    except InvalidInput:
        return False
    grade = vocab.find_exact("grade", grade_code)
    return stage is not None and grade is not None and (grade.data or {}).get("stage") == stage.code


def shown_metadata(fields: dict[str, Any]) -> dict[str, Any]:
    """Metadata for people: term names instead of terms or codes, empty values left out."""
    shown: dict[str, Any] = {}
    for name in ("title", *VOCAB_FIELDS, "chapter", "lesson", "tags", "status", "visibility"):
        value = fields.get(name)
        if name in VOCAB_FIELDS and value is not None:
            value = value["name"] if isinstance(value, dict) else value.name
        if value:
            shown[name] = value
    return shown
