"""EPUB covers and tables of contents: the two corpus books, and EPUBs built here with
zipfile so every property (paths, nesting, hostile parts) is known exactly."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from repo_server.transcode.ebook import ContentsEntry, epub_contents, epub_cover
from repo_server.transcode.images import image_format
from repo_server.transcode.runner import MediaError

CONTAINER = """<?xml version="1.0" encoding="UTF-8"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles><rootfile full-path="{opf}" media-type="application/oebps-package+xml"/></rootfiles>
</container>"""

NCX_DOCTYPE = ('<!DOCTYPE ncx PUBLIC "-//NISO//DTD ncx 2005-1//EN" '
               '"http://www.daisy.org/z3986/2005/ncx-2005-1.dtd">')

RED, GREEN, BLUE = (220, 30, 30), (30, 200, 30), (30, 30, 220)


def image_bytes(color: tuple[int, int, int], size: tuple[int, int] = (300, 450),
                fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, fmt)
    return out.getvalue()


def opf(manifest: str, *, metadata: str = "", spine: str = "", version: str = "3.0") -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="{version}" unique-identifier="id">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
    <dc:identifier id="id">urn:uuid:1</dc:identifier><dc:title>Test</dc:title>{metadata}
  </metadata>
  <manifest>{manifest}</manifest>
  <spine{spine}><itemref idref="ch1"/></spine>
</package>"""


def build_epub(path: Path, files: dict[str, str | bytes], *,
               opf_path: str | None = "OEBPS/content.opf") -> Path:
    """An EPUB zip: mimetype first and stored, container.xml naming `opf_path`, then `files`."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        if opf_path is not None:
            archive.writestr("META-INF/container.xml", CONTAINER.format(opf=opf_path))
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def mean_color(path: Path) -> tuple[float, ...]:
    with Image.open(path) as image:
        return tuple(ImageStat.Stat(image.convert("RGB")).mean)


def close_to(color: tuple[float, ...], expected: tuple[int, int, int], tolerance: float = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(color, expected, strict=True))


# -- the corpus ---------------------------------------------------------------------------------
def test_lemo_epub2_ncx_contents_and_cover(corpus, tmp_path) -> None:
    book = corpus("lemo.epub")
    assert epub_contents(book) == [ContentsEntry("檸檬", 1, "OEBPS/text00001.html")]

    out = epub_cover(book, tmp_path / "cover")
    assert out == tmp_path / f"cover{image_format()[1]}"
    with zipfile.ZipFile(book) as archive:
        original = Image.open(io.BytesIO(archive.read("OEBPS/Image00001.jpg"))).convert("RGB")
    assert original.size == (1097, 1646)
    with Image.open(out) as made:
        assert made.format == image_format()[0]
        assert made.height == 1200 and made.width in (799, 800)     # fitted, ratio kept
        # It is that image (not the book's other two pictures), only smaller.
        difference = ImageChops.difference(made.convert("RGB"), original.resize(made.size))
    assert max(ImageStat.Stat(difference).mean) < 8
    assert [p.name for p in tmp_path.iterdir()] == [out.name]        # no temporary left behind


def test_standard_ebooks_epub3_nav_nests_and_ignores_landmarks(corpus, tmp_path) -> None:
    book = corpus("testEPUB_multi-metadata-vals.epub")
    entries = epub_contents(book)
    assert len(entries) == 26
    assert entries[:5] == [
        ContentsEntry("Titlepage", 1, "epub/text/titlepage.xhtml"),
        ContentsEntry("Imprint", 1, "epub/text/imprint.xhtml"),
        ContentsEntry("Epigraph", 1, "epub/text/epigraph.xhtml"),
        ContentsEntry("Dedication", 1, "epub/text/dedication.xhtml"),
        ContentsEntry("The Inheritors", 1, "epub/text/halftitlepage.xhtml"),
    ]
    chapters = entries[5:24]
    assert [e.level for e in chapters] == [2] * 19
    assert chapters[0] == ContentsEntry("I", 2, "epub/text/chapter-1.xhtml")
    assert chapters[-1] == ContentsEntry("XIX", 2, "epub/text/chapter-19.xhtml")
    assert entries[-1] == ContentsEntry("Uncopyright", 1, "epub/text/uncopyright.xhtml")
    # The landmarks nav also links "The Inheritors", to chapter 1: it is not the contents.
    assert ContentsEntry("The Inheritors", 1, "epub/text/chapter-1.xhtml") not in entries
    assert len(epub_contents(book, max_entries=7)) == 7

    out = epub_cover(book, tmp_path / "cover")
    with Image.open(out) as made:
        assert made.size == (800, 1200)                              # 1400×2100 fitted exactly


# -- EPUB 3 built here --------------------------------------------------------------------------
NAV = """<?xml version="1.0" encoding="UTF-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">
<head><title>Contents</title></head><body>
<nav epub:type="landmarks"><ol><li><a href="../text/ch2.xhtml">Landmark, not contents</a></li></ol></nav>
<nav epub:type="toc"><h1>Contents</h1>
  <ol>
    <li><a href="../text/ch1.xhtml">  Chapter
        One  </a>
      <ol>
        <li><a href="../text/ch1.xhtml#s1">Section <em>1.1</em></a>
          <ol><li><a href="../text/ch%201.xhtml#deep">Deeper</a></li></ol>
        </li>
        <li><span>Unlinked heading</span></li>
      </ol>
    </li>
    <li><a href="#notes">Notes here</a></li>
    <li><a href="https://example.org/x.html">Elsewhere</a></li>
    <li><a href="../../../etc/passwd">Escape</a></li>
    <li><a href="/OEBPS/text/ch2.xhtml">Absolute</a></li>
    <li><a href="../text/ch2.xhtml">{long}</a></li>
  </ol>
</nav></body></html>"""

EPUB3_MANIFEST = """
    <item id="nav" href="nav/toc.xhtml" media-type="application/xhtml+xml" properties="nav"/>
    <item id="ch1" href="text/ch1.xhtml" media-type="application/xhtml+xml"/>
    <item id="pic" href="images/front.png" media-type="image/png" properties="cover-image"/>"""


def test_epub3_nav_levels_and_hrefs_relative_to_the_nav_document(tmp_path) -> None:
    book = build_epub(tmp_path / "b.epub", {
        "OEBPS/content.opf": opf(EPUB3_MANIFEST),
        "OEBPS/nav/toc.xhtml": NAV.format(long="word " * 60),
        "OEBPS/text/ch1.xhtml": "<html/>",
        "OEBPS/images/front.png": image_bytes(RED),
    })
    entries = epub_contents(book)
    assert entries[:8] == [
        ContentsEntry("Chapter One", 1, "OEBPS/text/ch1.xhtml"),
        ContentsEntry("Section 1.1", 2, "OEBPS/text/ch1.xhtml#s1"),
        ContentsEntry("Deeper", 3, "OEBPS/text/ch 1.xhtml#deep"),
        ContentsEntry("Unlinked heading", 2, ""),
        ContentsEntry("Notes here", 1, "OEBPS/nav/toc.xhtml#notes"),
        ContentsEntry("Elsewhere", 1, ""),
        ContentsEntry("Escape", 1, ""),
        ContentsEntry("Absolute", 1, ""),
    ]
    long = entries[8]
    assert len(entries) == 9 and long.href == "OEBPS/text/ch2.xhtml"
    assert len(long.title) == 200 and long.title.startswith("word word") and "  " not in long.title
    assert [e.title for e in epub_contents(book, max_entries=3)] == ["Chapter One", "Section 1.1",
                                                                     "Deeper"]


def test_epub3_cover_image_property(tmp_path) -> None:
    book = build_epub(tmp_path / "b.epub", {
        "OEBPS/content.opf": opf(EPUB3_MANIFEST),
        "OEBPS/nav/toc.xhtml": NAV.format(long="x"),
        "OEBPS/images/front.png": image_bytes(RED, (300, 450)),
    })
    (tmp_path / "out").mkdir()
    out = epub_cover(book, tmp_path / "out" / "cover")
    assert out == tmp_path / "out" / f"cover{image_format()[1]}"
    with Image.open(out) as made:
        assert made.size == (300, 450)                               # never enlarged
    assert close_to(mean_color(out), RED)
    assert list((tmp_path / "out").iterdir()) == [out]


@pytest.mark.parametrize(("properties", "meta", "decoy_id", "expected"), [
    (True, True, "cover-old", RED),       # properties="cover-image" wins
    (False, True, "cover-old", GREEN),    # then <meta name="cover" content="ID">
    (False, False, "cover-old", BLUE),    # then an image whose id says "cover"
    (False, False, "old-art", None),      # nothing declares a cover: None
])
def test_cover_discovery_order(tmp_path, properties, meta, decoy_id, expected) -> None:
    manifest = f"""
        <item id="ch1" href="ch1.xhtml" media-type="application/xhtml+xml"/>
        <item id="{decoy_id}" href="img/a.png" media-type="image/png"/>
        <item id="art-b" href="img/b.png" media-type="image/png"/>
        <item id="art-c" href="img/c.png" media-type="image/png"{' properties="cover-image"' if properties else ''}/>
        <item id="cover-page" href="cover.xhtml" media-type="application/xhtml+xml"/>"""
    book = build_epub(tmp_path / "b.epub", {
        "OEBPS/content.opf": opf(manifest, metadata='<meta name="cover" content="art-b"/>' if meta else ""),
        "OEBPS/img/a.png": image_bytes(BLUE),
        "OEBPS/img/b.png": image_bytes(GREEN),
        "OEBPS/img/c.png": image_bytes(RED),
        "OEBPS/cover.xhtml": "<html/>",
    })
    out = epub_cover(book, tmp_path / "cover")
    if expected is None:
        assert out is None and not list(tmp_path.glob("cover*"))
        assert not list(tmp_path.glob(".cover-*"))
    else:
        assert out is not None and close_to(mean_color(out), expected)


# -- EPUB 2 built here --------------------------------------------------------------------------
NCX = f"""<?xml version="1.0" encoding="UTF-8"?>
{NCX_DOCTYPE}
<ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1">
  <head><meta name="dtb:uid" content="urn:uuid:1"/></head>
  <docTitle><text>Book title, not an entry</text></docTitle>
  <navMap>
    <navPoint id="p1" playOrder="1"><navLabel><text>Part
        I</text></navLabel><content src="Text/part1.xhtml"/>
      <navPoint id="p2" playOrder="2"><navLabel><text>Chapter 1</text></navLabel>
        <content src="Text/ch1.xhtml#start"/>
        <navPoint id="p3" playOrder="3"><navLabel><text>Scene 1</text></navLabel>
          <content src="Text/ch1.xhtml#scene1"/></navPoint>
      </navPoint>
    </navPoint>
    <navPoint id="p4" playOrder="4"><navLabel><text>Appendix</text></navLabel>
      <content src="../../outside.xhtml"/></navPoint>
  </navMap>
</ncx>"""

EPUB2_MANIFEST = """
    <item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>
    <item id="ch1" href="Text/ch1.xhtml" media-type="application/xhtml+xml"/>
    <item id="img7" href="Images/scan.jpg" media-type="image/jpeg"/>"""


def epub2(tmp_path: Path, **extra: str | bytes) -> Path:
    files: dict[str, str | bytes] = {
        "OEBPS/content.opf": opf(EPUB2_MANIFEST, metadata='<meta name="cover" content="img7"/>',
                                 spine=' toc="ncx"', version="2.0"),
        "OEBPS/toc.ncx": NCX,
        "OEBPS/Text/ch1.xhtml": "<html/>",
        "OEBPS/Images/scan.jpg": image_bytes(GREEN, (1000, 1000), "JPEG"),
    }
    files.update(extra)
    return build_epub(tmp_path / "b2.epub", files)


def test_epub2_ncx_nested_with_doctype(tmp_path) -> None:
    assert epub_contents(epub2(tmp_path)) == [
        ContentsEntry("Part I", 1, "OEBPS/Text/part1.xhtml"),
        ContentsEntry("Chapter 1", 2, "OEBPS/Text/ch1.xhtml#start"),
        ContentsEntry("Scene 1", 3, "OEBPS/Text/ch1.xhtml#scene1"),
        ContentsEntry("Appendix", 1, ""),                            # ../../ leaves the archive
    ]


def test_epub2_meta_cover(tmp_path) -> None:
    out = epub_cover(epub2(tmp_path), tmp_path / "cover")
    assert out is not None
    with Image.open(out) as made:
        assert made.size == (800, 800)
    assert close_to(mean_color(out), GREEN)


def test_sloppy_nav_falls_back_to_the_ncx_and_fails_without_one(tmp_path) -> None:
    sloppy = '<html xmlns="http://www.w3.org/1999/xhtml"><body><nav>a&nbsp;b</nav></body></html>'
    manifest = EPUB2_MANIFEST + '<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>'
    files = {"OEBPS/content.opf": opf(manifest, spine=' toc="ncx"'), "OEBPS/nav.xhtml": sloppy}
    book = build_epub(tmp_path / "a.epub", {**files, "OEBPS/toc.ncx": NCX})
    assert [e.title for e in epub_contents(book)] == ["Part I", "Chapter 1", "Scene 1", "Appendix"]

    book = build_epub(tmp_path / "b.epub", files)                    # the NCX member is missing
    with pytest.raises(MediaError, match="nav.xhtml is not well-formed"):
        epub_contents(book)


def test_no_nav_and_no_ncx_gives_no_contents(tmp_path) -> None:
    book = build_epub(tmp_path / "b.epub", {
        "OEBPS/content.opf": opf('<item id="ch1" href="ch1.xhtml" media-type="application/xhtml+xml"/>'),
        "OEBPS/ch1.xhtml": "<html><head><title>A title not guessed</title></head></html>",
    })
    assert epub_contents(book) == []
    assert epub_cover(book, tmp_path / "cover") is None


# -- damaged and hostile books ------------------------------------------------------------------
def test_not_a_zip_and_a_truncated_book(corpus, tmp_path) -> None:
    text = tmp_path / "notes.epub"
    text.write_text("just some text, not an e-book")
    with pytest.raises(MediaError, match="the e-book is damaged"):
        epub_contents(text)
    truncated = tmp_path / "half.epub"
    data = corpus("lemo.epub").read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match="the e-book is damaged"):
        epub_cover(truncated, tmp_path / "cover")


def test_missing_container_or_package(tmp_path) -> None:
    no_container = build_epub(tmp_path / "a.epub", {"OEBPS/content.opf": opf("")}, opf_path=None)
    with pytest.raises(MediaError, match="container.xml is missing"):
        epub_contents(no_container)
    for i, opf_path in enumerate(["OEBPS/missing.opf", "../content.opf", "/OEBPS/content.opf"]):
        book = build_epub(tmp_path / f"b{i}.epub", {"OEBPS/content.opf": opf(""),
                                                    "content.opf": opf("")}, opf_path=opf_path)
        with pytest.raises(MediaError, match="no package"):
            epub_cover(book, tmp_path / "cover")


def test_billion_laughs_and_external_entities_are_refused(tmp_path) -> None:
    laughs = ('<?xml version="1.0"?>\n<!DOCTYPE package [\n <!ENTITY lol "lol">\n'
              + "".join(f' <!ENTITY lol{i} "{("&lol" + str(i - 1 if i > 1 else "") + ";") * 10}">\n'
                        for i in range(1, 10))
              + ']>\n<package xmlns="http://www.idpf.org/2007/opf"><metadata>&lol9;</metadata></package>')
    assert "&lol9;" in laughs and "<!ENTITY lol1 \"&lol;&lol;" in laughs
    book = build_epub(tmp_path / "a.epub", {"OEBPS/content.opf": laughs})
    for call in (lambda: epub_contents(book), lambda: epub_cover(book, tmp_path / "cover")):
        with pytest.raises(MediaError, match="refused: OEBPS/content.opf declares XML entities"):
            call()

    xxe = ('<?xml version="1.0"?><!DOCTYPE ncx [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           '<ncx xmlns="http://www.daisy.org/z3986/2005/ncx/"><navMap><navPoint><navLabel>'
           '<text>&x;</text></navLabel><content src="a.xhtml"/></navPoint></navMap></ncx>')
    with pytest.raises(MediaError, match="entities or external references"):
        epub_contents(epub2(tmp_path, **{"OEBPS/toc.ncx": xxe}))


def test_paths_leaving_the_archive_are_not_followed(tmp_path) -> None:
    manifest = """
        <item id="ch1" href="ch1.xhtml" media-type="application/xhtml+xml"/>
        <item id="a" href="../../secret.png" media-type="image/png" properties="cover-image"/>
        <item id="b" href="/abs.png" media-type="image/png" properties="cover-image"/>
        <item id="c" href="%2E%2E/%2E%2E/secret.png" media-type="image/png" properties="cover-image"/>"""
    files: dict[str, str | bytes] = {
        "OEBPS/content.opf": opf(manifest),
        "../secret.png": image_bytes(RED),           # members really named like that exist
        "/abs.png": image_bytes(RED),
    }
    book = build_epub(tmp_path / "a.epub", files)
    with zipfile.ZipFile(book) as archive:
        assert {"../secret.png", "/abs.png"} <= set(archive.namelist())
    assert epub_cover(book, tmp_path / "cover") is None

    # A later, legitimate candidate is still found.
    manifest += '<item id="cover" href="img/cover.png" media-type="image/png"/>'
    book = build_epub(tmp_path / "b.epub", {**files, "OEBPS/content.opf": opf(manifest),
                                             "OEBPS/img/cover.png": image_bytes(BLUE)})
    out = epub_cover(book, tmp_path / "cover")
    assert out is not None and close_to(mean_color(out), BLUE)


def test_oversize_member_is_refused_without_being_read(tmp_path, monkeypatch) -> None:
    huge = b"\0" * (33 * 1024 * 1024)                                # deflates to ~33 kB
    book = epub2(tmp_path, **{"OEBPS/Images/scan.jpg": huge})
    assert book.stat().st_size < 1024 * 1024
    opened: list[str] = []
    real_open = zipfile.ZipFile.open

    def spy(self, name, *args, **kwargs):
        opened.append(name if isinstance(name, str) else name.filename)
        return real_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    with pytest.raises(MediaError, match="declares 33 MB"):
        epub_cover(book, tmp_path / "cover")
    assert "OEBPS/content.opf" in opened and "OEBPS/Images/scan.jpg" not in opened


ENCRYPTION = """<?xml version="1.0"?>
<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container"
            xmlns:enc="http://www.w3.org/2001/04/xmlenc#">
  <enc:EncryptedData>
    <enc:EncryptionMethod Algorithm="{algorithm}"/>
    <enc:CipherData><enc:CipherReference URI="{uri}"/></enc:CipherData>
  </enc:EncryptedData>
</encryption>"""


def test_drm_encrypted_cover_is_refused_but_font_obfuscation_is_not(tmp_path) -> None:
    drm = ENCRYPTION.format(algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc",
                            uri="OEBPS/Images/scan.jpg")
    book = epub2(tmp_path, **{"META-INF/encryption.xml": drm,
                              "OEBPS/Images/scan.jpg": zlib.compress(b"ciphertext" * 100)})
    with pytest.raises(MediaError, match="DRM"):
        epub_cover(book, tmp_path / "cover")
    assert len(epub_contents(book)) == 4                              # the NCX is not encrypted

    fonts = ENCRYPTION.format(algorithm="http://www.idpf.org/2008/embedding",
                              uri="OEBPS/Fonts/serif.otf")
    book = epub2(tmp_path, **{"META-INF/encryption.xml": fonts})
    assert epub_cover(book, tmp_path / "cover") is not None


def test_unreadable_cover_images(tmp_path) -> None:
    book = epub2(tmp_path, **{"OEBPS/Images/scan.jpg": b"\xff\xd8 not really a jpeg"})
    with pytest.raises(MediaError, match="not an image"):
        epub_cover(book, tmp_path / "cover")

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))
    book = epub2(tmp_path, **{"OEBPS/Images/scan.jpg": bomb})
    with pytest.raises(MediaError, match="decompression bomb"):
        epub_cover(book, tmp_path / "cover")
    assert not list(tmp_path.glob(".cover-*"))                        # temporary removed on failure
