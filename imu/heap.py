"""Freed memory handed back to the system at the end of a report's big steps.

numpy's arrays of a few hundred kilobytes to a few megabytes (a step's temporaries, the
collected pieces of a session's angles) come from the C heap once glibc's allocator has
raised its threshold for giving large blocks their own mapping. Freed, they stay in the
heap: glibc returns memory on its own only from the heap's top, which a long-lived small
object pins. Joining a session's pieces or grading its stability then allocates fresh
memory beside the free holes, and the process holds both. `malloc_trim` returns the free
pages wherever they are (about 150 MB at the end of an 8-hour report). Elsewhere (macOS,
Windows, musl) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import lru_cache


@lru_cache(maxsize=1)
def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # no C library found, or one without malloc_trim
        return None


def release_freed_memory() -> bool:
    """Give the heap's free pages back to the system; True where that is possible."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
