"""The manifest file format: deterministic, line-oriented JSON, written and read as a stream.

A manifest lists every resource a mirror may hold (see entries.py for what that is) with the
vocabulary they use. Its bytes are a pure function of that content and the serial, so the
same catalog state always gives the same sha256, and a downstream that applies a delta to
its base can check that it holds exactly the target. The layout is fixed to the byte:

    {"format":"repo-server-manifest/1","serial":3,"vocabulary":[
    {"aliases":[…],"code":"P","scheme":"stage",…},
    {…}
    ],"resources":[
    {"id":"0b1c…","created":"…",…},
    {"id":"5f2e…",…}
    ]}

- one item per line; JSON escapes line breaks inside strings, so "\\n" never occurs in an
  item and readers split on it alone (not on U+2028 or other Unicode line separators);
- items end with "," except the last of their list; the file ends with "]}\\n";
- keys sorted, except that a resource's "id" comes first; no spaces; UTF-8, not \\u-escapes;
- vocabulary terms in (scheme, position, code) order, resources in id order.

Lines are what make it cheap: the publisher copies unchanged resources from the previous
manifest without parsing them, a downstream streams a million resources in constant memory,
and rsync's delta transfer finds the unchanged runs. The whole file is still plain JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator, Mapping, TypeVar

from repo_server.errors import RepoError

__all__ = ["MANIFEST_FORMAT", "ManifestError", "ManifestRef", "dumps", "entry_line", "parse_line",
           "LineWriter", "write_manifest", "read_manifest_head", "iter_entries", "join_sorted",
           "ABSENT", "entry_objects", "line_objects", "file_sha256", "strip_item", "read_head"]

MANIFEST_FORMAT = "repo-server-manifest/1"
_VOCAB_OPEN = ',"vocabulary":['
_RESOURCES_OPEN = b'],"resources":['
_END = b"]}"
_ID_PREFIX = b'{"id":'
_decoder = json.JSONDecoder()
_OBJECT = re.compile(rb'"sha256":"([0-9a-f]{64})","size":(\d+)')

T = TypeVar("T")


class ManifestError(RepoError):
    """A manifest or delta file is malformed, or does not hash to what its pointer says."""

    code = "bad_manifest"


@dataclass(frozen=True)
class ManifestRef:
    """Which manifest: its serial and the sha256 and size of its bytes."""

    serial: int
    sha256: str
    size: int

    def as_dict(self) -> dict[str, Any]:
        return {"serial": self.serial, "sha256": self.sha256, "size": self.size}


def dumps(value: Any) -> str:
    """The one JSON spelling used in manifests, deltas and CURRENT: sorted keys, no spaces,
    UTF-8 text, no NaN."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False)


def entry_line(entry: Mapping[str, Any]) -> bytes:
    """A resource entry as its manifest line (without the separating comma): "id" first."""
    rest = {k: v for k, v in entry.items() if k != "id"}
    body = dumps(rest)
    return (f'{{"id":{dumps(entry["id"])}' + ("," + body[1:] if len(body) > 2 else "}")).encode()


def parse_line(line: bytes) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except ValueError as exc:
        raise ManifestError(f"a manifest line is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ManifestError("a manifest line is not a JSON object")
    return value


def _line_id(line: bytes) -> str:
    if not line.startswith(_ID_PREFIX):
        raise ManifestError(f"a resource line does not start with its id: {line[:60]!r}")
    try:
        value, _ = _decoder.raw_decode(line[len(_ID_PREFIX):].decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError(f"unreadable resource id in {line[:60]!r}: {exc}") from None
    if not isinstance(value, str):
        raise ManifestError(f"a resource id is not a string: {line[:60]!r}")
    return value


class LineWriter:
    """Writes the line layout above to a file, hashing and counting as it goes; `finish`
    fsyncs and returns (sha256, size). Used for manifests and deltas alike."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: BinaryIO = open(path, "wb")
        self._hash = hashlib.sha256()
        self.size = 0
        self._first = True

    def raw(self, data: bytes) -> None:
        self._file.write(data)
        self._hash.update(data)
        self.size += len(data)

    def open_list(self, data: bytes) -> None:
        """Write `data` (ending in "[") and start a list of items."""
        self.raw(data)
        self._first = True

    def item(self, line: bytes) -> None:
        self.raw((b"\n" if self._first else b",\n") + line)
        self._first = False

    def close_list(self, data: bytes) -> None:
        """End the list on a new line that starts with `data` ("]…")."""
        self.raw(b"\n" + data)

    def finish(self) -> tuple[str, int]:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        return self._hash.hexdigest(), self.size

    def abort(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)


def write_manifest(writer: LineWriter, serial: int, vocabulary: Iterable[Mapping[str, Any]],
                   lines: Iterable[bytes]) -> None:
    """Everything of a manifest around its resource lines (given in id order)."""
    head = dumps({"format": MANIFEST_FORMAT, "serial": serial})
    writer.open_list((head[:-1] + _VOCAB_OPEN).encode())
    for term in vocabulary:
        writer.item(dumps(term).encode())
    writer.close_list(_RESOURCES_OPEN)
    writer.open_list(b"")
    for line in lines:
        writer.item(line)
    writer.close_list(_END + b"\n")


def strip_item(raw: bytes) -> bytes:
    """An item line as read from a file, without its line break and separating comma."""
    line = raw.rstrip(b"\n")
    return line[:-1] if line.endswith(b",") else line


def read_head(stream: BinaryIO, name: str, opener: str, expected: str) -> dict[str, Any]:
    """The scalar keys on a file's first line, which ends by opening its first list
    (`opener`, e.g. ',"vocabulary":['); the file's format must be `expected`."""
    first = stream.readline().rstrip(b"\n").decode()
    if not first.endswith(opener):
        raise ManifestError(f"{name} is not a {expected} file")
    head = json.loads(first[: -len(opener)] + "}")
    if head.get("format") != expected:
        raise ManifestError(f"{name} is in format {head.get('format')!r}, this version reads {expected}")
    return head


def read_manifest_head(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header ({"format", "serial"}) and the vocabulary of a manifest."""
    with open(path, "rb") as stream:
        header = read_head(stream, path.name, _VOCAB_OPEN, MANIFEST_FORMAT)
        vocabulary = []
        for raw in stream:
            if raw.rstrip(b"\n") == _RESOURCES_OPEN:
                return header, vocabulary
            vocabulary.append(parse_line(strip_item(raw)))
    raise ManifestError(f"{path.name} ends inside its vocabulary")


def iter_entries(path: Path) -> Iterator[tuple[str, bytes]]:
    """(id, line) of every resource of a manifest, in file (= id) order, in constant memory."""
    with open(path, "rb") as stream:
        for raw in stream:
            if raw.rstrip(b"\n") == _RESOURCES_OPEN:
                break
        else:
            raise ManifestError(f"{path.name} has no resource list")
        previous = ""
        for raw in stream:
            line = raw.rstrip(b"\n")
            if line == _END:
                return
            line = strip_item(raw)
            resource_id = _line_id(line)
            if resource_id <= previous:
                raise ManifestError(f"{path.name}: resources out of order at {resource_id}")
            previous = resource_id
            yield resource_id, line
    raise ManifestError(f"{path.name} is cut off (no closing line)")


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


#: What `join_sorted` yields for a side that has no item with this id.
ABSENT: Any = _Absent()


def join_sorted(left: Iterable[tuple[str, bytes]], right: Iterable[tuple[str, T]]
                ) -> Iterator[tuple[str, bytes | Any, T | Any]]:
    """Full outer merge-join of two id-ordered streams: (id, left item, right item), with
    ABSENT for a side that lacks the id. Constant memory."""
    lefts, rights = iter(left), iter(right)
    a, b = next(lefts, None), next(rights, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a[0] < b[0]):
            yield a[0], a[1], ABSENT
            a = next(lefts, None)
        elif a is None or b[0] < a[0]:
            yield b[0], ABSENT, b[1]
            b = next(rights, None)
        else:
            yield a[0], a[1], b[1]
            a, b = next(lefts, None), next(rights, None)


def entry_objects(entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every object a resource entry needs, as {"sha256", "size", "role", "profile", "page"?}:
    the original, each derivative file (page images one by one) and the text."""
    original = entry["original"]
    found = [{"role": "original", "profile": "", "sha256": original["sha256"], "size": original["size"]}]
    for derivative in entry.get("derivatives", []):
        for file in derivative["files"]:
            found.append({"role": "derivative", "profile": derivative["profile"], **file})
    text = entry.get("text") or {}
    if text.get("sha256"):
        found.append({"role": "text", "profile": "", "sha256": text["sha256"], "size": text["size"]})
    return found


def line_objects(line: bytes) -> list[tuple[str, int]]:
    """(sha256, size) of every object a resource line names, without parsing the whole line:
    every object is a {…"sha256":"<hex>","size":N…} object (sorted keys put them side by
    side), and a quote inside a JSON string is always escaped, so the pattern below can only
    match structure, never a title."""
    return [(m.group(1).decode(), int(m.group(2))) for m in _OBJECT.finditer(line)]


def file_sha256(path: Path) -> tuple[str, int]:
    """sha256 and size of a file, read in 1 MiB pieces."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as stream:
        while chunk := stream.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
