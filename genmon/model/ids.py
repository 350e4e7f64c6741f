"""Value ids as sets, and how a set of ids is shown: counts and runs of consecutive ids.

A value id is the per-generator sequence number a tracked generator gives each value it yields.
Keeping the ids (not just a count) is what lets genmon say *which* values stopped where, and keeps
a loss plus a duplicate from netting to zero. pyroaring's compressed bitmaps make memory grow with
the number of gaps, not the number of values; sets of ids from several readings (or, later, several
workers) combine with a union.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pyroaring import AbstractBitMap, AbstractBitMap64, BitMap, BitMap64, FrozenBitMap, FrozenBitMap64

RANGE_LIMIT = 20
"""How many runs of consecutive ids a MissingIds keeps (the count is always exact)."""
ORIGIN_SHIFT = 32
"""A value id merged from several workers' generators of one name is ``worker << 32 | seq``
(see :mod:`genmon.model.merge`): the same generator in two workers numbers its values alike."""

Ids = AbstractBitMap | AbstractBitMap64
FrozenIds = FrozenBitMap | FrozenBitMap64
"""The immutable id sets readings carry: 32-bit ids, or 64-bit ones merged from several workers."""


def id_text(value: int) -> str:
    """An id as shown: ``17``, or ``w2:17`` for value 17 of worker 2's generator in a fleet."""
    origin, seq = value >> ORIGIN_SHIFT, value & ((1 << ORIGIN_SHIFT) - 1)
    return f"w{origin}:{seq}" if origin else str(value)


def run_text(first: int, last: int) -> str:
    if first == last:
        return id_text(first)
    return f"{id_text(first)}-{last & ((1 << ORIGIN_SHIFT) - 1) if first >> ORIGIN_SHIFT else last}"


def minus(a: Ids, b: Ids) -> Ids:
    """``a - b``. The sets one computation combines are all of one width (32-bit ids of one worker,
    or a fleet's 64-bit ids); pyroaring types its operators per width, so the mix is checked here
    at run time, once, rather than at every use."""
    return a - b  # type: ignore[operator]


def both(a: Ids, b: Ids) -> Ids:
    """``a & b`` (one width, see :func:`minus`)."""
    return a & b  # type: ignore[operator]


def either(a: Ids, b: Ids) -> Ids:
    """``a | b`` (one width, see :func:`minus`)."""
    return a | b  # type: ignore[operator]


def union_all(sets: Sequence[Ids]) -> Ids:
    """The union of one or more sets (one width, see :func:`minus`)."""
    return sets[0].union(*sets[1:])  # type: ignore[arg-type]


def within(ids: Ids, low: int, high: int) -> BitMap | BitMap64:
    """A mutable copy of the ids from ``low`` to ``high`` (both included), of either width."""
    copy = mutable(ids)
    copy.remove_range(0, low)
    copy.remove_range(high + 1, (1 << 64) - 1 if isinstance(copy, BitMap64) else 1 << 32)
    return copy


def mutable(ids: Ids) -> BitMap | BitMap64:
    """A mutable copy of either width."""
    return BitMap64(ids) if isinstance(ids, AbstractBitMap64) else BitMap(ids)


def frozen(ids: Ids) -> FrozenBitMap | FrozenBitMap64:
    """An immutable copy of either width (no copy when already frozen)."""
    if isinstance(ids, (FrozenBitMap, FrozenBitMap64)):
        return ids
    return FrozenBitMap64(ids) if isinstance(ids, AbstractBitMap64) else FrozenBitMap(ids)


@dataclass(frozen=True)
class MissingIds:
    """A set of value ids as shown: how many, their first runs of consecutive ids, whether more follow."""

    count: int
    ranges: tuple[tuple[int, int], ...]
    more: bool = False

    @classmethod
    def of(cls, ids: Ids, limit: int = RANGE_LIMIT) -> MissingIds:
        runs, more = id_ranges(ids, limit)
        return cls(len(ids), runs, more)

    def text(self) -> str:
        """``1-80, 93, 95-97`` (and ``…`` when more runs follow); ``w2:5-9`` in a fleet."""
        parts = [run_text(a, b) for a, b in self.ranges]
        return ", ".join(parts) + (", …" if self.more else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "ranges": [[_json_id(a), _json_id(b)] for a, b in self.ranges],
            "more": self.more,
        }


def _json_id(value: int) -> int | str:
    """An id in JSON: a number, or ``"w2:17"`` for a fleet's merged id (see :func:`id_text`)."""
    return value if value >> ORIGIN_SHIFT == 0 else id_text(value)


def id_ranges(ids: Ids, limit: int = RANGE_LIMIT) -> tuple[tuple[tuple[int, int], ...], bool]:
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


def id_range(first: int, last: int) -> FrozenBitMap:
    """The ids ``first`` … ``last`` (empty when last < first)."""
    ids = BitMap()
    if last >= first:
        ids.add_range(first, last + 1)
    return FrozenBitMap(ids)


def finished_by_all(processed: Iterable[tuple[str, Ids]]) -> FrozenBitMap | FrozenBitMap64 | None:
    """Ids finished by every agent that reads their topic, from ``(topic, ids one agent finished)``.

    Fan-out: all agents reading a topic must finish a value; an agent sending on to two topics: each
    value counts on its own topic. None when no agent finished anything yet.
    """
    per_topic: dict[str, Any] = {}
    for topic, ids in processed:
        seen = per_topic.get(topic)
        per_topic[topic] = mutable(ids) if seen is None else seen & ids
    if not per_topic:
        return None
    sets = list(per_topic.values())
    union = sets[0]
    for more in sets[1:]:
        union |= more
    return frozen(union)
