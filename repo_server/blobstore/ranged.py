"""RangeReader: a read-only stream limited to `length` bytes of an underlying stream."""

from __future__ import annotations

import io
from typing import BinaryIO

__all__ = ["RangeReader"]


class RangeReader(io.RawIOBase):
    """Reads at most `length` bytes (all, when None) from `inner`, then reports EOF."""

    def __init__(self, inner: BinaryIO, length: int | None) -> None:
        self._inner = inner
        self._left = length

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        """The underlying descriptor, positioned at the range start: lets gunicorn sendfile a
        range (it sends exactly Content-Length bytes from the current offset). Streams
        without one (S3) raise, and are then read chunk by chunk."""
        return self._inner.fileno()

    def read(self, size: int = -1) -> bytes:
        if self._left is None:
            return self._inner.read(size)
        if self._left <= 0:
            return b""
        if size is None or size < 0 or size > self._left:
            size = self._left
        data = self._inner.read(size)
        self._left -= len(data)
        return data

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            super().close()
