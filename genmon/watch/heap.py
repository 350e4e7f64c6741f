"""Freed memory handed back to the operating system (glibc's ``malloc_trim``).

A watcher decodes every report it reads (inflated JSON, id sets) and drops it once folded, on
threads of its own. glibc keeps what its threads' arenas freed for their next allocation, so a
watcher's resident memory was the high-water mark of its busiest reading, not what it holds: one
that read an hour of a fleet's reports held 86 MB with nothing merged, 50 MB once trimmed
(docs/CHAOS.md). Elsewhere (musl, macOS) there is nothing to call and nothing is done.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable


@functools.cache
def _trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` from the symbols the process already has (``find_library`` would run
    ``ldconfig`` in a subprocess)."""
    try:
        return getattr(ctypes.CDLL(None), "malloc_trim", None)
    except OSError:
        return None


def give_back() -> bool:
    """Return the heap's free pages to the OS (a few ms for a hundred MB); False where it cannot."""
    trim = _trim()
    if trim is None:
        return False
    trim(0)
    return True
