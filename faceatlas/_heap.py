"""Hand back to the system the memory glibc keeps after large work.

glibc keeps freed heap for reuse, and releases only what lies at the top of the heap above its
trim threshold (up to 64 MB once the thresholds have adapted). After a model is compiled and
after a large photo is decoded or searched, tens of MB stay with the worker and come on top of
the next photo's peak (docs/benchmarks.md, "Peak memory of one worker"). ``malloc_trim`` walks
the heap once (well under a millisecond), so it is called only after such work.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from typing import Any


@functools.cache
def _libc() -> Any:
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def give_back() -> None:
    """Return the free heap to the system (glibc on Linux; elsewhere nothing)."""
    libc = _libc() if sys.platform.startswith("linux") else None
    with contextlib.suppress(AttributeError):  # not glibc (musl has no malloc_trim)
        if libc is not None:
            libc.malloc_trim(0)
