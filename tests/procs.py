"""Finding and watching the processes a genmon command started (from /proc, Linux)."""

from __future__ import annotations

import os
from pathlib import Path


def children_of(pid: int, *markers: bytes) -> list[int]:
    """Processes whose parent is ``pid`` and whose command line contains every marker."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and all(marker in cmd for marker in markers):
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Running (a zombie is dead for our purposes)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) != "Z"
    except OSError:
        return False
