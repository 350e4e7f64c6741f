"""Freed memory handed back to the operating system (glibc's ``malloc_trim``), and a long-lived
watcher run on the C library's allocator so that it can be.

A watcher decodes every report it reads (inflated JSON, id sets) and drops it once folded, on
threads of its own. glibc keeps what its threads' arenas freed for their next allocation, so a
watcher's resident memory was the high-water mark of its busiest reading, not what it holds: one
that read an hour of a fleet's reports held 86 MB with nothing merged, 50 MB once trimmed
(docs/CHAOS.md). Elsewhere (musl, macOS) there is nothing to call and nothing is done.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
from collections.abc import Callable

SYSTEM_ALLOCATOR = {"PYTHONMALLOC": "malloc"}
"""Python's own allocator (pymalloc) hands a 1 MB arena back only once every object in it is freed:
a watcher that read an hour of a fleet's reports kept a few live objects in each arena its reading
used, and so the reading's high-water mark for life (66 MB, of them 12.8 MB of live objects; on the
C library's allocator, trimmed: 51 MB — docs/CHAOS.md). A watcher's allocations are reports being
decoded, not the probe's hot path, so the slower allocator costs nothing anyone waits for."""


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


def on_system_allocator(whole_process: bool) -> None:
    """Run this process again, the same command, on the C library's allocator (once: the variable
    is then set; or the user set ``PYTHONMALLOC`` themselves). Only a whole ``genmon`` process on a
    POSIX system (``exec`` keeps its pid, terminal and signals), never one called from Python."""
    if not whole_process or os.name != "posix" or "PYTHONMALLOC" in os.environ or not sys.executable:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, sys.orig_argv, {**os.environ, **SYSTEM_ALLOCATOR})
