"""Sets of value ids seen at one stage, with duplicates counted apart.

A value id is the per-generator sequence number a tracked generator gives each value it yields.
Keeping the ids (not just a count) is what lets genmon say *which* values stopped where, and keeps
a loss plus a duplicate from netting to zero. pyroaring's compressed bitmaps make memory grow
with the number of gaps, not the number of values.
"""

from __future__ import annotations

from pyroaring import BitMap


class StageIds:
    """The ids one stage has seen, plus how many times an id was seen again."""

    __slots__ = ("duplicates", "ids")

    def __init__(self) -> None:
        self.ids = BitMap()
        self.duplicates = 0

    def add(self, seq: int) -> None:
        """Record one sighting of ``seq``; a second sighting is a duplicate, not a new value."""
        ids = self.ids
        if seq in ids:
            self.duplicates += 1
        else:
            ids.add(seq)

    def __len__(self) -> int:
        return len(self.ids)


def id_ranges(ids: BitMap, limit: int = 20) -> tuple[tuple[tuple[int, int], ...], bool]:
    """The first ``limit`` runs of consecutive ids as (first, last) pairs, and whether more follow.

    Uses select (``ids[i]``) with a binary search per run, so a gap of a million ids costs
    about 20 look-ups, not a million.
    """
    runs: list[tuple[int, int]] = []
    i, n = 0, len(ids)
    while i < n and len(runs) < limit:
        start = ids[i]
        lo, hi = i, n - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if ids[mid] - start == mid - i:
                lo = mid
            else:
                hi = mid - 1
        runs.append((start, ids[lo]))
        i = lo + 1
    return tuple(runs), i < n


def missing_between(before: BitMap, after: BitMap) -> BitMap:
    """Ids that reached the earlier stage but not the later one."""
    return before - after
