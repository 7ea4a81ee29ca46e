"""Walking a district library's folder tree and reading names the way schools keep them.

The walk works on BYTES paths, so a folder whose name is not valid UTF-8 (a zip made on
Chinese Windows and unpacked on Linux keeps GBK names) is seen and reported instead of
crashing the walk or being skipped silently. Order is deterministic (sorted by raw name),
hidden/system junk is ignored, and symbolic links are never followed out of the root:
a link to a file inside the root is imported like the file, a link to a folder is not
followed at all (its real folder is walked anyway; following it could loop).

Names are read as UTF-8, else as GB18030 (a superset of GBK/GB2312) with a warning; a name
that is neither fails its files with the raw bytes shown as escapes.
"""

from __future__ import annotations

import os
import re
import stat
import unicodedata
from dataclasses import dataclass, field
from typing import Iterator

from repo_server.catalog.terms import VocabTerm, term_key
from repo_server.catalog.vocab import VocabIndex
from repo_server.errors import UnknownTerm

__all__ = ["SourceFile", "Undecodable", "walk", "is_junk", "decode_name", "decode_parts",
           "escaped", "strip_ordering", "PathMeta", "PathMapper", "SIDECAR_NAME"]

SIDECAR_NAME = b"metadata.csv"

# Files and folders that operating systems and office suites leave behind; never resources.
_JUNK_NAMES = {b"thumbs.db", b"ehthumbs.db", b"desktop.ini", b"__macosx", b"$recycle.bin",
               b"recycler", b"system volume information", b"icon\r"}


@dataclass(frozen=True)
class SourceFile:
    """One walked file under a resolved root. `skip`: listed, not imported (a link not
    followed); `error`: cannot be imported at all (an unreadable folder)."""

    root: bytes                       # the import root, resolved (realpath)
    parts: tuple[bytes, ...]          # relative path components; the last is the file name
    skip: str | None = None
    error: str | None = None

    @property
    def path(self) -> bytes:
        return os.path.join(self.root, *self.parts)

    @property
    def display(self) -> str:
        """The relative path for people: decoded where possible, escapes where not."""
        return "/".join(_display_part(p) for p in self.parts)


@dataclass
class Undecodable(Exception):
    """A path component that is neither UTF-8 nor GB18030."""

    raw: bytes
    shown: str = ""        # the whole relative path, with escapes
    kind: str = "file"     # file | folder

    def __str__(self) -> str:
        where = f" (in {self.shown})" if self.shown else ""
        return f"the {self.kind} name {escaped(self.raw)} is neither UTF-8 nor GB18030{where}"


def escaped(raw: bytes) -> str:
    """Bytes as text that is always printable: undecodable bytes become \\xNN escapes."""
    return raw.decode("utf-8", "backslashreplace")


def _display_part(raw: bytes) -> str:
    try:
        return decode_name(raw)[0]
    except Undecodable:
        return escaped(raw)


def decode_name(raw: bytes) -> tuple[str, bool]:
    """(name, read_as_gb18030). UTF-8 first: valid UTF-8 is almost never meant as GBK."""
    for encoding in ("utf-8", "gb18030"):
        try:
            return unicodedata.normalize("NFC", raw.decode(encoding)), encoding != "utf-8"
        except UnicodeDecodeError:
            continue
    raise Undecodable(raw)


def decode_parts(parts: tuple[bytes, ...]) -> tuple[list[str], list[str]]:
    """Decoded path components and one warning per component read as GB18030.

    Raises Undecodable (showing the whole path with escapes) when a component is neither.
    """
    names: list[str] = []
    warnings: list[str] = []
    for index, raw in enumerate(parts):
        kind = "file" if index == len(parts) - 1 else "folder"
        try:
            name, legacy = decode_name(raw)
        except Undecodable:
            shown = "/".join(_display_part(p) for p in parts)
            raise Undecodable(raw, shown, kind) from None
        if legacy:
            warnings.append(f"{kind} name is not UTF-8; read as GB18030: {name}")
        names.append(name)
    return names, warnings


def is_junk(name: bytes) -> bool:
    """Hidden files, OS thumbnails/indexes, Office lock and temp files, macOS zip debris."""
    lowered = name.lower()
    return (name.startswith(b".") or lowered in _JUNK_NAMES or name.startswith(b"~$")
            or (name.startswith(b"~") and lowered.endswith(b".tmp")))


def walk(root: bytes, *, exclude: frozenset[bytes] = frozenset(),
         ignored: list[bytes] | None = None,
         _parts: tuple[bytes, ...] = ()) -> Iterator[SourceFile]:
    """Every regular file under `root` (a resolved directory), sorted, depth first.
    `exclude`: resolved paths never to yield (the sidecars); junk goes to `ignored`."""
    directory, parts = os.path.join(root, *_parts), _parts
    try:
        with os.scandir(directory) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        yield SourceFile(root, parts or (b".",), error=f"cannot read this folder: {exc.strerror}")
        return
    for entry in entries:
        name = entry.name
        here = parts + (name,)
        if is_junk(name):
            if ignored is not None:
                ignored.append(entry.path)
            continue
        if entry.path in exclude:
            continue
        try:
            if entry.is_symlink():
                item = _link(root, here, entry.path)
                if item is not None:
                    yield item
            elif entry.is_dir(follow_symlinks=False):
                yield from walk(root, exclude=exclude, ignored=ignored, _parts=here)
            elif entry.is_file(follow_symlinks=False):
                yield SourceFile(root, here)
            # sockets, FIFOs and devices are not files anyone meant to import (and a FIFO
            # would block the reader forever): passed over in silence.
        except OSError as exc:
            yield SourceFile(root, here, error=f"cannot examine this entry: {exc.strerror}")


def _link(root: bytes, parts: tuple[bytes, ...], path: bytes) -> SourceFile | None:
    """A symbolic link: imported only when it is a link to a regular file inside the root."""
    target = os.path.realpath(path)
    try:
        mode = os.stat(target).st_mode
    except OSError:
        return SourceFile(root, parts, skip="broken symbolic link")
    if stat.S_ISDIR(mode):
        return SourceFile(root, parts, skip="symbolic link to a folder (not followed)")
    if not stat.S_ISREG(mode):
        return None
    if os.path.commonpath([root, target]) != root:
        return SourceFile(root, parts, skip="symbolic link pointing outside the import folder "
                                            "(not followed)")
    return SourceFile(root, parts)


# -- path segments → metadata ----------------------------------------------------------------
_ORDER = ("stage", "grade", "subject", "edition", "volume", "type")
_FAMILY_TYPE = {"presentation": "KJ", "video": "WK", "ebook": "DZTS", "image": "SC", "audio": "SC"}
_NUM = r"[0-9一二三四五六七八九十百零〇两]+"
_CHAPTER = re.compile(rf"(第{_NUM}(单元|章|模块|专题)|(unit|chapter|module)\s*\d+|{_NUM}单元)",
                      re.IGNORECASE)
_LESSON = re.compile(rf"(第{_NUM}(课时|课|节|讲)|lesson\s*\d+|课时\s*{_NUM}?|{_NUM}课时)",
                     re.IGNORECASE)
# "01_", "1.", "01 ", "(1)", "1、" before a name: ordering, not part of it.
_ORDERING = re.compile(r"^\s*(?:[(（\[【]\d{1,3}[)）\]】]|\d{1,3}(?=[\s._\-、．:：)）]))"
                       r"[\s._\-、．:：)）]*+(?!\d)")
_JOINERS = set("-_·・.,，、+&/()[]【】《》<>")


def strip_ordering(name: str) -> str:
    """Drop a leading ordering number ("01_", "1.", "(2)") when something remains."""
    rest = _ORDERING.sub("", name, count=1).strip()
    return rest or name.strip()


@dataclass
class PathMeta:
    """What a file's path says about it. Vocabulary values are terms, not text."""

    terms: dict[str, VocabTerm] = field(default_factory=dict)
    chapter: str = ""
    lesson: str = ""
    tags: list[str] = field(default_factory=list)
    title: str = ""
    warnings: list[str] = field(default_factory=list)

    def stage_code(self) -> str | None:
        if "stage" in self.terms:
            return self.terms["stage"].code
        return (self.terms["grade"].data or {}).get("stage") if "grade" in self.terms else None


class PathMapper:
    """Maps folder names and file stems to vocabulary terms, chapter, lesson and tags.

    A segment counts as terms when it is one term (name or alias; codes are not matched:
    a folder called "SC" is not 素材) or when it is wholly made of terms, 第N单元/第N课
    markers and joiners ("三年级上册", "人教版-数学"). Anything else is a tag. The file stem
    is a fallback: it fills only what the folders left unset, and may also name the
    resource type inside a longer title ("勾股定理教学设计").
    """

    def __init__(self, vocab: VocabIndex) -> None:
        self.vocab = vocab
        self._phrases: set[str] = set()
        for scheme in _ORDER:
            for term in vocab.terms(scheme):
                self._phrases.add(term.key)
                self._phrases.update(alias.key for alias in term.aliases)
        self._longest = max((len(p) for p in self._phrases), default=0)

    def family_type(self, family: str) -> VocabTerm | None:
        code = _FAMILY_TYPE.get(family)
        return self.vocab.find_exact("type", code) if code else None

    def map(self, folders: list[str], stem: str) -> PathMeta:
        meta = PathMeta(title=strip_ordering(stem))
        for folder in folders:
            name = strip_ordering(folder)
            if _CHAPTER.match(name):
                meta.chapter = f"{meta.chapter} {name}".strip()
            elif _LESSON.match(name):
                meta.lesson = f"{meta.lesson} {name}".strip()
            elif not self._apply(meta, name):
                meta.tags.append(name)
        self._apply_stem(meta, meta.title)
        self._settle_stage(meta)
        return meta

    def _apply(self, meta: PathMeta, text: str) -> bool:
        """Apply a wholly-matching segment; False when it is not made of terms only."""
        tokens = self._scan(term_key(text), meta, partial=False)
        if tokens is None:
            return False
        for kind, value in tokens:
            if kind == "chapter" and not meta.chapter:
                meta.chapter = value
            elif kind == "lesson" and not meta.lesson:
                meta.lesson = value
            elif kind == "phrase":
                self._assign(meta, value)
        return True

    def _apply_stem(self, meta: PathMeta, stem: str) -> None:
        key = term_key(stem)
        for kind, regex in (("chapter", _CHAPTER), ("lesson", _LESSON)):
            found = regex.match(stem)
            if found and not getattr(meta, kind):
                setattr(meta, kind, found.group())
        if self._scan(key, meta, partial=False) is not None:
            self._apply(meta, stem)
        elif "type" not in meta.terms:
            for kind, value in self._scan(key, meta, partial=True) or []:
                term = self._find("type", value, None) if kind == "phrase" else None
                if term is not None:
                    meta.terms["type"] = term
                    break

    def _scan(self, key: str, meta: PathMeta, *, partial: bool) -> list[tuple[str, str]] | None:
        """Split a key into terms, markers and joiners (longest match first); None when
        something else is left over, unless `partial`."""
        tokens: list[tuple[str, str]] = []
        i = 0
        while i < len(key):
            if key[i] in _JOINERS:
                i += 1
                continue
            chapter, lesson = _CHAPTER.match(key, i), _LESSON.match(key, i)
            if (chapter or lesson) and not partial:
                marker = chapter or lesson
                tokens.append(("chapter" if chapter else "lesson", marker.group()))
                i = marker.end()
                continue
            phrase = self._phrase_at(key, i)
            if phrase is None:
                if not partial:
                    return None
                i += 1
                continue
            tokens.append(("phrase", phrase))
            i += len(phrase)
        return tokens if tokens or partial else None

    def _phrase_at(self, key: str, i: int) -> str | None:
        for n in range(min(self._longest, len(key) - i), 1, -1):
            candidate = key[i:i + n]
            if candidate in self._phrases:
                # Latin terms (PEP, PPT) only as whole words: not the "ppt" in "apptitude".
                if candidate.isascii() and candidate.isalnum() and (
                        (i > 0 and key[i - 1].isascii() and key[i - 1].isalnum()) or
                        (i + n < len(key) and key[i + n].isascii() and key[i + n].isalnum())):
                    continue
                return candidate
        return None

    def _find(self, scheme: str, key: str, stage: str | None) -> VocabTerm | None:
        try:
            term = self.vocab.find_exact(scheme, key, stage=stage)
        except UnknownTerm:  # an alias shared by several terms, unsettled by the stage
            return None
        if term is None or (term.key != key and all(a.key != key for a in term.aliases)):
            return None  # matched by code only
        return term

    def _assign(self, meta: PathMeta, phrase: str) -> None:
        for scheme in _ORDER:
            term = self._find(scheme, phrase, meta.stage_code())
            if term is not None:
                meta.terms.setdefault(scheme, term)  # the outermost folder wins
                return

    @staticmethod
    def _settle_stage(meta: PathMeta) -> None:
        """Grade implies stage; when the folders disagree (小学/七年级) the grade wins."""
        stage, grade = meta.terms.get("stage"), meta.terms.get("grade")
        if stage is None or grade is None:
            return
        grade_stage = (grade.data or {}).get("stage")
        six_in_junior = grade.code == "G6" and stage.code == "CZ"  # 五四学制
        if grade_stage and grade_stage != stage.code and not six_in_junior:
            del meta.terms["stage"]
            meta.warnings.append(f"the folders say {stage.name} but {grade.name} is not a grade "
                                 f"of it; kept {grade.name}")
