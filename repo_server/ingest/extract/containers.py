"""What container a file really is, checked before any parser touches it.

The MIME type from ingest says which *kind* of document to expect; the container decides
how to read it. District libraries are full of .docx files that are OLE2 (password-protected
OOXML is an OLE2 envelope around an "EncryptedPackage" stream), .doc files that are OOXML
and .wps files that are plain Word 97 binaries, so the first bytes settle it.

Two checks protect the parsers:
- `checked_zip` refuses zip containers whose *declared* uncompressed XML exceeds a limit
  before anything is decompressed. Python's zipfile never returns more than the declared
  size of a member (a member that inflates beyond it fails its CRC check), so the declared
  sizes are an honest bound on what python-docx, python-pptx, openpyxl and the EPUB reader
  can be made to parse.
- `ole_streams` reads an OLE2/CFB directory (names of the streams only, no contents), so a
  password-protected file is recognised without handing it to LibreOffice.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

from .result import ExtractionFailed

__all__ = ["container_of", "checked_zip", "ole_streams", "ole_encryption", "MAX_XML_BYTES",
           "MAX_ZIP_ENTRIES"]

MAX_XML_BYTES = 200 * 1024 * 1024     # declared uncompressed markup in one container
MAX_ZIP_ENTRIES = 50_000
_MARKUP_SUFFIXES = (".xml", ".rels", ".xhtml", ".html", ".htm", ".opf", ".ncx", ".vml")

_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_FREE_OR_END = 0xFFFFFFFA              # sector numbers at or above this are markers
_MAX_DIRECTORY_SECTORS = 4096


def container_of(path: Path) -> str:
    """"zip", "ole2", "pdf", "rtf" or "other", from the first bytes."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head == _OLE2_MAGIC:
        return "ole2"
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith(b"{\\rtf"):
        return "rtf"
    return "other"


def checked_zip(path: Path, limit: int = MAX_XML_BYTES) -> set[str]:
    """The member names of a zip container, after refusing likely zip bombs."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise ExtractionFailed(f"the file is damaged: not a readable zip container ({exc})") from exc
    if len(infos) > MAX_ZIP_ENTRIES:
        raise ExtractionFailed(f"the container holds {len(infos):,} parts (more than "
                               f"{MAX_ZIP_ENTRIES:,}); refused as a likely zip bomb")
    declared = sum(info.file_size for info in infos
                   if info.filename.lower().endswith(_MARKUP_SUFFIXES))
    if declared > limit:
        raise ExtractionFailed(f"the container declares {declared / 2**20:,.0f} MB of XML "
                               f"(limit {limit / 2**20:,.0f} MB); refused as a likely zip bomb")
    return {info.filename for info in infos}


def ole_streams(path: Path) -> dict[str, tuple[int, int]]:
    """Stream/storage names of an OLE2 file → (start sector, size); {} when unreadable.

    Only the header, the FAT entries of the directory chain and the directory itself are
    read. Cycles and absurd chains are cut off; damage yields a partial answer, never an
    exception, because LibreOffice will give the final verdict on a damaged file.
    """
    try:
        with open(path, "rb") as handle:
            return _read_directory(handle)
    except (OSError, struct.error, UnicodeDecodeError, ValueError):
        return {}


def _read_directory(handle) -> dict[str, tuple[int, int]]:
    header = handle.read(512)
    if len(header) < 512 or header[:8] != _OLE2_MAGIC:
        return {}
    sector_size = 1 << struct.unpack_from("<H", header, 0x1E)[0]
    if sector_size not in (512, 4096):
        return {}
    first_directory = struct.unpack_from("<I", header, 0x30)[0]
    fat_sectors = [s for s in struct.unpack_from("<109I", header, 0x4C) if s < _FREE_OR_END]
    next_difat, difat_count = struct.unpack_from("<II", header, 0x44)[0], struct.unpack_from("<I", header, 0x48)[0]
    per_sector = sector_size // 4
    for _ in range(min(difat_count, 10_000)):
        if next_difat >= _FREE_OR_END:
            break
        handle.seek((next_difat + 1) * sector_size)
        entries = struct.unpack(f"<{per_sector}I", handle.read(sector_size))
        fat_sectors.extend(s for s in entries[:-1] if s < _FREE_OR_END)
        next_difat = entries[-1]

    def next_sector(sector: int) -> int:
        index, slot = divmod(sector, per_sector)
        if index >= len(fat_sectors):
            return _FREE_OR_END
        handle.seek((fat_sectors[index] + 1) * sector_size + slot * 4)
        raw = handle.read(4)
        return struct.unpack("<I", raw)[0] if len(raw) == 4 else _FREE_OR_END

    streams: dict[str, tuple[int, int]] = {}
    sector, seen = first_directory, set()
    while sector < _FREE_OR_END and sector not in seen and len(seen) < _MAX_DIRECTORY_SECTORS:
        seen.add(sector)
        handle.seek((sector + 1) * sector_size)
        block = handle.read(sector_size)
        for offset in range(0, len(block) - 127, 128):
            entry = block[offset:offset + 128]
            name_length, kind = struct.unpack_from("<HB", entry, 64)
            if kind in (1, 2, 5) and 2 <= name_length <= 64:
                name = entry[:name_length - 2].decode("utf-16-le", "replace")
                streams[name] = struct.unpack_from("<II", entry, 116)
        sector = next_sector(sector)
    return streams


def ole_encryption(path: Path, streams: dict[str, tuple[int, int]]) -> str | None:
    """Why an OLE2 file is password-protected, or None when it does not look encrypted.

    - encrypted OOXML (.docx/.pptx/.xlsx saved with a password): "EncryptedPackage";
    - PowerPoint 97-2003 with a password: "EncryptedSummary";
    - Word 97-2003: fEncrypted in the FIB at the start of the WordDocument stream.
    Excel 97-2003 is left to LibreOffice on purpose: its FILEPASS record also marks files
    "protected" with Excel's built-in default password, which LibreOffice opens.
    """
    if "EncryptedPackage" in streams or "EncryptionInfo" in streams:
        return "an encrypted Office document (EncryptedPackage)"
    if "EncryptedSummary" in streams:
        return "an encrypted PowerPoint 97-2003 file"
    try:
        with open(path, "rb") as handle:
            sector_size = 1 << struct.unpack_from("<H", handle.read(0x20), 0x1E)[0]
            word = streams.get("WordDocument")
            if word and word[1] >= 4096:   # big streams live in regular sectors
                handle.seek((word[0] + 1) * sector_size)
                fib = handle.read(12)
                if len(fib) == 12 and struct.unpack_from("<H", fib, 10)[0] & 0x0100:
                    return "an encrypted Word 97-2003 file"
    except (OSError, struct.error):
        return None
    return None
