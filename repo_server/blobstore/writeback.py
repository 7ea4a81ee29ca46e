"""Start writing dirty pages of a file to disk early, without waiting for it.

A 2 GB upload would otherwise sit in the page cache until the final fsync, which then
takes seconds after the last byte arrived (measured: 3.2 s of an 11.6 s ingest). Asking
the kernel every few tens of MB to begin writeback (sync_file_range with
SYNC_FILE_RANGE_WRITE, asynchronous) spreads the disk work over the upload. The final
fsync still happens before a blob is adopted, so durability is unchanged. Python's `os`
module has no sync_file_range, hence ctypes; on systems without it this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Callable

__all__ = ["start_writeback"]

_SYNC_FILE_RANGE_WRITE = 2


@functools.cache
def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        function = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


def start_writeback(fd: int, offset: int, length: int) -> bool:
    """Ask the kernel to start writing [offset, offset+length) of `fd`; True if it could."""
    function = _sync_file_range()
    return function is not None and function(fd, offset, length, _SYNC_FILE_RANGE_WRITE) == 0
