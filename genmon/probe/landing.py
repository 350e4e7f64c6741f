"""What the probe keeps so that Kafka's order can prove a value skipped (docs/ARCHITECTURE.md, "In
flight versus lost"): where each of a source's values landed on a partition (:class:`Landing`, on
the sending side) and how far each app's consumer read each partition (:class:`Positions`, on the
receiving side). Both are filled by the ledger's count, never in a hook.
"""

from __future__ import annotations

import threading
from typing import Any

from pyroaring import BitMap, BitMap64, FrozenBitMap, FrozenBitMap64

from genmon.model import AckLog

NOT_ORDERED = AckLog(ordered=False)

Landed = dict[int, tuple[list[int], list[int]]]
"""partition -> (ids, offsets), in the order they came"""


def by_partition(seqs: list[int], partitions: list[int], offsets: list[int]) -> Landed:
    """Split one batch (``seqs[i]`` on ``partitions[i]`` at ``offsets[i]``) per partition, keeping
    its order. The count runs this on every batch of every source: a batch of one partition (every
    batch, on a topic of one) is handed on as it is after one count in C; a mixed one goes value by
    value (``compress`` once per partition
    calls a comparison per value and partition, and is slower from two partitions on)."""
    first = partitions[0]
    if partitions.count(first) == len(partitions):
        return {first: (seqs, offsets)}
    split: Landed = {}
    for seq, partition, offset in zip(seqs, partitions, offsets, strict=True):
        pair = split.get(partition)
        if pair is None:
            pair = split[partition] = ([], [])
        pair[0].append(seq)
        pair[1].append(offset)
    return split


class Landing:
    """Where one source's values landed on one partition (see :class:`genmon.model.AckLog`)."""

    __slots__ = ("aged_upto", "ids", "last_id", "last_offset", "offsets", "ordered")

    def __init__(self) -> None:
        self.ids = BitMap()
        self.offsets = BitMap64()
        self.last_id = 0
        self.last_offset = -1
        self.ordered = True
        self.aged_upto = 0
        """The last id acknowledged when the log was last read: a read shows only values at or
        below it — acknowledged a read ago and still not received here — so a value that comes
        back within one report never travels at all."""

    def note(self, seqs: list[int], offsets: list[int]) -> None:
        """These values landed at these offsets, in the order they were acknowledged (a partition's
        acknowledgements come in offset order). Each list is added in one C call; the order is
        checked on the whole batch: both rising, past the last batch, none twice."""
        if not self.ordered:
            return
        if seqs[0] <= self.last_id or offsets[0] <= self.last_offset:
            self.give_up()
            return
        if len(seqs) > 1 and (seqs != sorted(seqs) or offsets != sorted(offsets)):
            self.give_up()
            return
        ids, at = self.ids, self.offsets
        before = len(ids)
        ids.update(seqs)
        at.update(offsets)
        if len(ids) - before != len(seqs) or len(at) != len(ids):  # a value, or an offset, twice
            self.give_up()
            return
        self.last_id, self.last_offset = seqs[-1], offsets[-1]

    def forget(self, seqs: list[int], offsets: list[int]) -> None:
        """These values, at these offsets, were received in this process: no proof will ever be
        needed for them, so the pairs leave the log (and the reports). Removing matched pairs keeps
        the k-th smallest id at the k-th smallest offset."""
        if not self.ordered:
            return
        ids, at = self.ids, self.offsets
        here = BitMap(seqs)
        if len(here & ids) == len(seqs) and len(seqs) == len(set(offsets)):
            ids.difference_update(here)
            at.difference_update(BitMap64(offsets))
        else:  # some not (yet) in the log: pair by pair
            for seq, offset in zip(seqs, offsets, strict=True):
                if seq in ids and offset in at:
                    ids.discard(seq)
                    at.discard(offset)
        if len(ids) != len(at):
            self.give_up()

    def give_up(self) -> None:
        """Values landed out of id order: no offset is known for them (the quiet rule judges)."""
        self.ordered = False
        self.ids = BitMap()
        self.offsets = BitMap64()

    def read(self) -> AckLog | None:
        """The values acknowledged a read ago or earlier and not received here, with their offsets
        (the k smallest ids at the k smallest offsets); None when there are none."""
        upto, self.aged_upto = self.aged_upto, self.last_id
        if not self.ordered:
            return NOT_ORDERED
        ids = self.ids
        if not ids or ids.min() > upto:
            return None
        if ids.max() <= upto:
            return AckLog(FrozenBitMap(ids), FrozenBitMap64(self.offsets), True)
        aged = BitMap(ids)
        aged.remove_range(upto + 1, 1 << 32)
        return AckLog(FrozenBitMap(aged), FrozenBitMap64(self.offsets[0 : len(aged)]), True)


class Positions:
    """Per app run (its consumer: one group), per (topic, partition), the first and the last offset
    of genmon's own values it received: what a skipped value of ours lies before."""

    def __init__(self, lock: Any) -> None:
        self._lock: threading.RLock = lock
        self._by_app: dict[str | None, dict[tuple[str, int], list[int]]] = {}

    def note(self, owner: str | None, topic: str, firsts: dict[int, int], lasts: dict[int, int]) -> None:
        """A count's offsets of ``topic`` read by app run ``owner``, per partition: the first of a
        partition not seen before, and the last (a redelivery after a rebalance goes back: the last
        stays the highest ever received)."""
        of_app = self._by_app.get(owner)
        if of_app is None:
            of_app = self._by_app[owner] = {}
        for partition, offset in lasts.items():
            known = of_app.get((topic, partition))
            if known is None:
                of_app[(topic, partition)] = [firsts[partition], offset]
            elif offset > known[1]:
                known[1] = offset

    def of(self, label: str | None) -> dict[tuple[str, int], tuple[int, int]]:
        """(topic, partition) -> (first, last) for app run ``label`` (None: every run's — a plain
        ``faust worker`` holds one app); any thread."""
        with self._lock:
            runs = self._by_app.values() if label is None else [self._by_app.get(label, {})]
            out: dict[tuple[str, int], tuple[int, int]] = {}
            for of_app in list(runs):
                for tp, (first, last) in list(of_app.items()):
                    was = out.get(tp, (first, last))
                    out[tp] = (min(was[0], first), max(was[1], last))
            return out
