"""Page images of a PDF with pypdfium2 (the PDF engine of Chromium).

Office files reach this module already converted to PDF (services.media runs LibreOffice).
Pages are rendered at a width that reads well on a classroom projector and stays small on
a slow link, up to a page limit: a 600-page e-book needs its first pages as a preview, not
all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium

from .images import save_image
from .runner import MediaError

__all__ = ["PageImages", "render_pages", "PAGE_WIDTH", "MAX_PAGES"]

PAGE_WIDTH = 1200
MAX_PAGES = 50


@dataclass(frozen=True)
class PageImages:
    page_count: int           # pages in the document
    images: list[Path]        # the first min(page_count, max_pages) pages, in order


def _open(path: Path) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        text = str(exc).lower()
        if "password" in text:
            raise MediaError("the PDF is password-protected; previews cannot be made") from None
        raise MediaError(f"the PDF cannot be read ({exc})") from None


def render_pages(pdf: Path, out_dir: Path, *, width: int = PAGE_WIDTH,
                 max_pages: int = MAX_PAGES) -> PageImages:
    """Render the first `max_pages` pages of `pdf` into `out_dir` as page-0001.webp, …"""
    document = _open(pdf)
    try:
        count = len(document)
        if count == 0:
            raise MediaError("the PDF has no pages")
        images = []
        for number in range(min(count, max_pages)):
            page = document[number]
            try:
                page_width = page.get_width() or 1
                bitmap = page.render(scale=min(width / page_width, 4.0), draw_annots=True)
                image = bitmap.to_pil()
            finally:
                page.close()
            images.append(save_image(image.convert("RGB"), out_dir / f"page-{number + 1:04d}"))
        return PageImages(page_count=count, images=images)
    except pdfium.PdfiumError as exc:
        raise MediaError(f"a page of the PDF cannot be rendered ({exc})") from None
    finally:
        document.close()
