"""Image thumbnails and page images with Pillow.

Handles what real uploads bring: phone photos that rely on the EXIF Orientation tag, CMYK
JPEGs from print shops, transparent PNGs, palette images, animated GIFs (the first frame),
and refuses decompression bombs — a tiny file that declares a gigantic picture — before
decoding a single pixel. Output is WebP (small on slow links), or PNG where this Pillow
was built without WebP.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError, features

from .runner import MediaError

__all__ = ["MAX_PIXELS", "THUMBNAIL_SIZE", "image_format", "thumbnail", "save_image", "open_image"]

MAX_PIXELS = 64_000_000        # 8000×8000: far above any camera a teacher uses
THUMBNAIL_SIZE = (480, 480)


def image_format() -> tuple[str, str, str]:
    """(Pillow format, file suffix, MIME type) of the images we write."""
    if features.check("webp"):
        return "WEBP", ".webp", "image/webp"
    return "PNG", ".png", "image/png"


def open_image(path: Path, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open lazily and check the declared size before anything is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaError("the image declares an enormous size (a decompression bomb); refused") from None
    except UnidentifiedImageError:
        raise MediaError("not an image Pillow can read") from None
    except OSError as exc:
        raise MediaError(f"the image cannot be read: {exc}") from None
    width, height = image.size
    if width <= 0 or height <= 0 or width * height > max_pixels:
        image.close()
        raise MediaError(f"the image is {width}×{height} pixels, more than the {max_pixels:,} "
                         "allowed; refused as a possible decompression bomb")
    return image


def _displayable(image: Image.Image) -> Image.Image:
    """First frame, upright, in RGB or RGBA."""
    image.seek(0)
    image = ImageOps.exif_transpose(image) or image
    if image.mode == "CMYK":
        # Adobe CMYK JPEGs are stored inverted; Pillow's conversion handles the common case.
        return image.convert("RGB")
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")


def save_image(image: Image.Image, dst: Path) -> Path:
    """Write in the preview format; returns the path written (with its suffix)."""
    fmt, suffix, _ = image_format()
    out = dst.with_suffix(suffix)
    options = {"quality": 80, "method": 4} if fmt == "WEBP" else {"optimize": True}
    image.save(out, fmt, **options)
    return out


def thumbnail(src: Path, dst: Path, *, size: tuple[int, int] = THUMBNAIL_SIZE,
              max_pixels: int = MAX_PIXELS) -> tuple[Path, tuple[int, int]]:
    """A thumbnail of `src` no larger than `size`; returns (path written, its size)."""
    image = open_image(src, max_pixels=max_pixels)
    try:
        try:
            image.draft("RGB", size)        # JPEG: decode at a reduced scale, much faster
        except (ValueError, AttributeError):
            pass
        shown = _displayable(image)
        shown.thumbnail(size, Image.Resampling.LANCZOS)
        return save_image(shown, dst), shown.size
    except (OSError, ValueError, SyntaxError) as exc:
        raise MediaError(f"the image is damaged: {exc}") from None
    finally:
        image.close()
