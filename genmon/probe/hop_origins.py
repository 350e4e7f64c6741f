"""What a hop's values were made from: the origin of each value a hop sent that is not done yet.

A hop (an agent that forwards, yields to a sink, repartitions, sends on) numbers its values in its
own row; each of its messages carries the ``genmon-id`` of the tracked value it was made from
(``genmon-origin``). A loss the probe sees (a crash, a decode failure) names the origin at once;
a loss nobody sees (acked, never received) is found by the model in the hop's own ids, and these
are what turn them into the origin's (:mod:`genmon.model.hops`). Kept as runs — consecutive hop ids
made from consecutive ids of one origin — so that a hop forwarding in order costs a handful of runs
however many values it holds, and kept from read to read: a read adds the values sent since and
cuts out those done since (a sink's hop holds thousands: made again twice a second, they had cost
tens of milliseconds a read).
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

from pyroaring import BitMap

from genmon.model import Cause, Made

MADE_FROM_LIMIT = 20_000
"""Hop values whose origin a row keeps while they are not done (a few MB at most): past it the oldest
half goes — a loss among them is still counted, in the hop's own ids only."""
NAMED_DOWNSTREAM = (Cause.CRASHED, Cause.DECODE_FAILED)
"""Losses the probe names on the origin's row when it sees them (the record carries the origin):
no need to keep where those values came from."""


class HopOrigins:
    """hop id -> (the origin's ``genmon-id`` header, the hop's send time in µs), and its runs."""

    __slots__ = ("_new", "_rebuild", "_runs", "entries")

    def __init__(self) -> None:
        self.entries: dict[int, tuple[bytes | str, int]] = {}
        self._runs: list[Made] = []
        self._new: list[int] = []
        self._rebuild = False

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Any:
        return iter(self.entries)

    def add(self, seq: int, origin: bytes | str, at: int, guard: threading.RLock) -> None:
        """One hop send (the loop's thread: one dict entry, one list append)."""
        entries = self.entries
        entries[seq] = (origin, at)
        self._new.append(seq)
        if len(entries) > MADE_FROM_LIMIT:
            with guard:
                for old in list(itertools.islice(entries, MADE_FROM_LIMIT // 2)):
                    del entries[old]
                self._rebuild = True

    def outstanding(self, done: Any, named: list[Any], guard: threading.RLock) -> tuple[Made, ...]:
        """The values not yet done, as runs; those done (finished by every agent here that reads
        their topic: ``done``) or already named on their origin (``named``) are let go. A value
        nothing here finishes (a sink's, or one read in another process) stays until the limit: an
        acknowledgement says nothing of whether a reader will take it."""
        with guard:
            entries = self.entries
            new, self._new = self._new, []  # the loop's thread appends to the fresh list
            if self._rebuild:  # the limit dropped the oldest: the runs are made again
                self._rebuild, self._runs, new = False, [], list(entries)
            gone = [*named, done] if done is not None else list(named)
            if gone and entries:  # let go of what is done: a set operation in C, then only those
                removed = BitMap(list(entries))  # list(): one C call while the loop's thread adds
                removed &= BitMap.union(*(BitMap(ids) for ids in gone)) if len(gone) > 1 else BitMap(gone[0])
                if removed:
                    for seq in removed:
                        entries.pop(seq, None)
                    self._runs = _without(self._runs, removed)
            runs = self._runs
            for seq in sorted(new):
                entry = entries.get(seq)
                if entry is None:
                    continue
                origin, at = entry
                if isinstance(origin, bytes):
                    origin = origin.decode(errors="replace")
                key, _, rest = origin.rpartition(":")[0].rpartition(":")
                if not rest.isdigit():
                    continue
                first = int(rest)
                if runs and runs[-1].last >= seq:  # out of order (rare): made again from all kept
                    self._rebuild = True
                    continue
                if runs:
                    run = runs[-1]
                    if (
                        run.last == seq - 1
                        and run.origin == key
                        and run.origin_first + seq - run.first == first
                    ):
                        runs[-1] = run._replace(last=seq, until_us=at)
                        continue
                runs.append(Made(seq, seq, key, first, at, at))
            return tuple(runs)


def _without(runs: list[Made], removed: BitMap) -> list[Made]:
    """The runs with the ids in ``removed`` cut out: a run loses its ends, or splits (each piece
    keeps its share of the run's send times). Work per run cut, not per id it holds."""
    out: list[Made] = []
    for run in runs:
        if not removed.range_cardinality(run.first, run.last + 1):
            out.append(run)
            continue
        cuts = BitMap()
        cuts.add_range(run.first, run.last + 1)
        cuts &= removed  # the ids of this run that are done, in order
        start = run.first
        for seq in [*cuts, run.last + 1]:
            if seq > start:
                out.append(_piece(run, start, seq - 1))
            start = seq + 1
    return out


def _piece(run: Made, first: int, last: int) -> Made:
    span = max(run.last - run.first, 1)

    def at(seq: int) -> int:
        return run.since_us + (run.until_us - run.since_us) * (seq - run.first) // span

    return Made(first, last, run.origin, run.origin_first + first - run.first, at(first), at(last))
