"""Thumbnails with Pillow on the corpus's awkward images, and page images with pdfium."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from repo_server.transcode.images import image_format, thumbnail
from repo_server.transcode.pages import render_pages
from repo_server.transcode.runner import MediaError


def test_exif_orientation_is_applied(corpus, tmp_path) -> None:
    src = corpus("hopper_orientation_6.jpg")
    with Image.open(src) as raw:
        assert raw.getexif().get(0x0112) == 6
        stored_top_left = raw.convert("RGB").getpixel((0, 0))
    out, size = thumbnail(src, tmp_path / "thumb")
    with Image.open(out) as made:
        # Orientation 6: the stored picture turns 90° clockwise, so its top-left corner
        # becomes the top-right corner of what is shown.
        shown = made.convert("RGB").getpixel((size[0] - 1, 0))
    assert all(abs(a - b) <= 24 for a, b in zip(shown, stored_top_left, strict=True))


def test_animated_gif_gives_its_first_frame_and_size_is_bounded(corpus, tmp_path) -> None:
    out, size = thumbnail(corpus("chi.gif"), tmp_path / "thumb", size=(160, 160))
    assert out.suffix == image_format()[1] and size == (160, 120)
    with Image.open(out) as made:
        assert getattr(made, "n_frames", 1) == 1


def test_cmyk_and_transparency_are_converted(tmp_path) -> None:
    cmyk = tmp_path / "print.jpg"
    Image.new("CMYK", (800, 600), (0, 255, 255, 0)).save(cmyk)        # pure red in CMYK
    out, _ = thumbnail(cmyk, tmp_path / "cmyk-thumb")
    with Image.open(out) as made:
        r, g, b = made.convert("RGB").getpixel((10, 10))
    assert r > 200 and g < 60 and b < 60
    clear = tmp_path / "clear.png"
    Image.new("RGBA", (300, 300), (0, 0, 0, 0)).save(clear)
    out, _ = thumbnail(clear, tmp_path / "clear-thumb")
    with Image.open(out) as made:
        assert made.mode == "RGBA" and made.getpixel((5, 5))[3] == 0


def test_decompression_bomb_is_refused_before_decoding(corpus, tmp_path) -> None:
    with pytest.raises(MediaError) as caught:
        thumbnail(corpus("decompression_bomb.gif"), tmp_path / "bomb")
    assert "decompression bomb" in caught.value.message and not caught.value.transient


def test_not_an_image_is_a_clear_error(corpus, tmp_path) -> None:
    with pytest.raises(MediaError) as caught:
        thumbnail(corpus("dummy.mp4"), tmp_path / "x")
    assert "not an image" in caught.value.message


@pytest.mark.parametrize("name", ["issue19360.pdf", "issue2128r.pdf", "multilang.pdf"])
def test_pdf_pages_render_with_chinese_text(corpus, tmp_path, name) -> None:
    pages = render_pages(corpus(name), tmp_path)
    assert pages.page_count == 1 and len(pages.images) == 1
    with Image.open(pages.images[0]) as page:
        assert abs(page.width - 1200) <= 1          # pdfium rounds the scaled size
        extrema = page.convert("L").getextrema()
    assert extrema[0] < 100 < extrema[1]          # ink on paper, not a blank page


def test_page_limit(tmp_path) -> None:
    pdf = tmp_path / "long.pdf"
    pages = [Image.new("RGB", (200, 280), "white") for _ in range(7)]
    pages[0].save(pdf, save_all=True, append_images=pages[1:])
    rendered = render_pages(pdf, tmp_path, max_pages=3)
    assert rendered.page_count == 7 and [p.name for p in rendered.images] == \
        [f"page-000{n}{image_format()[1]}" for n in (1, 2, 3)]


@pytest.mark.parametrize(("name", "message"), [
    ("libreoffice-writer-password.pdf", "password-protected"),
    ("REDHAT-1531897-0.pdf", "cannot be read"),
])
def test_protected_and_broken_pdfs_fail_clearly(corpus, tmp_path, name, message) -> None:
    with pytest.raises(MediaError) as caught:
        render_pages(corpus(name), tmp_path)
    assert message in caught.value.message


def test_outputs_are_in_the_preview_format(tmp_path: Path) -> None:
    assert image_format() == ("WEBP", ".webp", "image/webp")    # Debian's Pillow wheels have WebP
