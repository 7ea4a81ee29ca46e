"""A blob as a file on disk, for the tools that need a path (extractors, ffmpeg, pdfium)."""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .context import Services

__all__ = ["local_copy"]


@contextmanager
def local_copy(svc: Services, sha256: str) -> Iterator[Path]:
    """A filesystem path to the blob: the stored file itself (local store), or a staged copy
    removed afterwards (S3)."""
    path = svc.blobs.local_path(sha256)
    if path is not None:
        yield path
        return
    staged = svc.staging.new()
    try:
        with svc.blobs.open(sha256) as stream:
            shutil.copyfileobj(stream, staged, 1024 * 1024)
        staged.finish()
        yield staged.path
    finally:
        staged.discard()
