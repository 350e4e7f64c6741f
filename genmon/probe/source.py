"""Everything the probe knows about one source: its switch, and its ids at every stage.

A *source* is the head of a pipeline: a tracked generator, or code that sends. The generator
wrapper gives values their ids on the Faust loop's thread; the sensor's hooks queue what they see and
the probe's ledger counts it into the id sets (:mod:`genmon.probe.ledger`), under the ledger's lock,
on whichever thread reads. :meth:`Source.read` counts the queue, then copies later stages first: a
stage copied later can only have grown, so no later stage is ever shown ahead of an earlier one
because of the read.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram
from pyroaring import BitMap, FrozenBitMap

from genmon.model import CAUSES, Cause, Made, RowKind, SourceState, Stage, downstream_key
from genmon.model.ids import finished_by_all
from genmon.model.latency import LATENCY_MAX_US, histogram
from genmon.probe.landing import Landing, by_partition


class StageIds:
    """The ids one stage has seen, plus how many times an id was seen again."""

    __slots__ = ("duplicates", "ids")

    def __init__(self) -> None:
        self.ids = BitMap()
        self.duplicates = 0

    def add(self, seq: int) -> bool:
        """Record one sighting of ``seq``; a second sighting is a duplicate, not a new value.
        True when it was new (one membership test per value: a hook runs this per value)."""
        ids = self.ids
        if seq in ids:
            self.duplicates += 1
            return False
        ids.add(seq)
        return True

    def add_all(self, seqs: list[int]) -> None:
        """Record a sighting of each of ``seqs`` (what :meth:`add` does, in one C call)."""
        ids = self.ids
        before = len(ids)
        ids.update(seqs)
        self.duplicates += len(seqs) - (len(ids) - before)

    def fresh(self, seqs: list[int]) -> BitMap | None:
        """``seqs`` as a bitmap if none was seen before, nor twice among them: every one is new,
        no per-id check needed. None otherwise."""
        new = BitMap(seqs)
        return new if len(new) == len(seqs) and self.ids.isdisjoint(new) else None

    def __len__(self) -> int:
        return len(self.ids)


def _copied(by_topic: dict[str, StageIds]) -> tuple[dict[str, FrozenBitMap], FrozenBitMap, int]:
    """Per topic a frozen copy, their union (the ids that reached the stage on some topic) and the
    duplicates (a value seen twice on one topic)."""
    copies = {topic: FrozenBitMap(ids.ids) for topic, ids in list(by_topic.items())}
    duplicates = sum(ids.duplicates for ids in list(by_topic.values()))
    if len(copies) == 1:
        (union,) = copies.values()
    else:
        union = FrozenBitMap.union(*copies.values()) if copies else FrozenBitMap()
    return copies, union, duplicates


LATENCY_BITS = histogram().sub_bucket_count.bit_length() - 1
"""The histogram tells apart latencies in their top ``LATENCY_BITS`` bits only (256 sub-buckets for
two significant digits): a latency rounded down to those bits lands in the very slot it would have."""


EMPTY_IDS = FrozenBitMap()
MADE_FROM_LIMIT = 20_000
"""Hop values whose origin a row keeps while they are not done (a few MB at most): past it the oldest
half goes — a loss among them is still counted, in the hop's own ids only."""
NAMED_DOWNSTREAM = (Cause.CRASHED, Cause.DECODE_FAILED)
"""Losses the probe names on the origin's row when it sees them (the record carries the origin):
no need to keep where those values came from."""


def _damaged() -> dict[Cause, StageIds]:
    return {cause: StageIds() for cause in CAUSES}


def _nothing() -> None:
    return None


@dataclass
class Source:
    """A source as the probe sees it, mutated only on the Faust loop's thread.

    ``seq`` is the id of the last value yielded; ids start at 1. ``floor`` is ``seq`` at the last
    reset: ids at or below it belong to before the reset and are ignored at every stage, so a value
    that was in flight across a reset never makes a later stage exceed an earlier one.
    """

    name: str
    function: str = "?"
    kind: RowKind = RowKind.ASYNC
    code: str = ""
    """``path:line`` of the function's definition (a tracked generator's), or empty."""
    on: bool = True
    owner: str | None = None
    seq: int = 0
    floor: int = 0
    token: str = ""
    header_value_prefix: bytes = b""
    sent_by: dict[str, StageIds] = field(default_factory=dict)
    """topic -> ids sent to it. Stages are per (value, topic): a value sent to two topics is two
    deliveries, never a duplicate; a duplicate is the same value on the same topic twice."""
    acked_by: dict[str, StageIds] = field(default_factory=dict)
    received_by: dict[str, StageIds] = field(default_factory=dict)
    processed: dict[tuple[str, str], StageIds] = field(default_factory=dict)
    """(topic, agent) -> ids finished: a value is processed once every agent reading its topic is done"""
    damaged: dict[Cause, StageIds] = field(default_factory=_damaged)
    notes: dict[Cause, str] = field(default_factory=dict)
    crashed_by: dict[str, BitMap] = field(default_factory=dict)
    """agent -> the ids it raised on (another agent reading the same topic still finishes them)."""
    downstream: dict[str, StageIds] = field(default_factory=dict)
    """``downstream_key(hop, cause)`` -> ids of this source's values lost at a later hop (a row of
    their own, e.g. an agent that repartitions) by that cause."""
    downstream_notes: dict[str, str] = field(default_factory=dict)
    """cause -> what genmon saw happen last (``agent count raised KeyError('x')``), for the verdict."""
    made_from: dict[int, tuple[bytes | str, int]] = field(default_factory=dict)
    """A hop's row: id -> (the origin header of the value it was made from, the send's time in µs).
    Filled by the send hook (one dict entry per hop's send), let go once the value is done (see
    :meth:`_outstanding`); at most ``MADE_FROM_LIMIT`` entries, the oldest dropped first."""
    topics: dict[str, None] = field(default_factory=dict)
    agents: dict[str, None] = field(default_factory=dict)
    reorders: int = 0
    last_by_partition: dict[tuple[str, int], int] = field(default_factory=dict)
    landed: dict[tuple[str, int], Landing] = field(default_factory=dict)
    """(topic, partition) -> where this source's acknowledged values landed (the sender's side)."""
    latency: dict[int, int] = field(default_factory=dict)
    """Latency in µs, rounded to what the histogram tells apart -> values: counted on the loop's
    thread per value (a dict entry costs a tenth of ``HdrHistogram.record_value``, which is pure
    Python), put into the histogram only when the source is read (see :meth:`_latency_encoded`)."""
    stalls: int = 0
    longest_stall: float = 0.0
    foreign: bool = False
    """Another process's source: only what this process received and processed of it."""
    _synced: tuple[dict[int, int], HdrHistogram, dict[int, int], str] | None = field(
        default=None, repr=False, compare=False
    )
    """(the counts it was filled from, the histogram, the counts recorded in it, its encoding)"""
    _reading: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    settle: Callable[[], None] = field(default=_nothing, repr=False, compare=False)
    """Counts what the probe's hooks queued for its sources (see :mod:`genmon.probe.ledger`):
    called before a read."""
    guard: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)
    """Held by whatever changes the id sets (the probe's ledger lock, once the probe keeps it)."""

    def __post_init__(self) -> None:
        self.header_value_prefix = self.header_key + b":"

    @property
    def header_key(self) -> bytes:
        """``name@token``: the token is per run, so values left on a topic by an earlier run
        (same generator name, same ids) are never counted as this run's."""
        return f"{self.name}@{self.token}".encode()

    def stage_on(self, stage: dict[str, StageIds], topic: str) -> StageIds:
        """One stage's ids on one topic (created on the first)."""
        ids = stage.get(topic)
        if ids is None:
            ids = stage[topic] = StageIds()
        return ids

    def made(self, seq: int, origin: bytes | str, at: int) -> None:
        """Hop value ``seq`` was made from the value whose ``genmon-id`` is ``origin``, sent at ``at``
        (µs): one dict entry per hop's send, on the loop's thread."""
        made = self.made_from
        made[seq] = (origin, at)
        self._made_new.append(seq)
        if len(made) > MADE_FROM_LIMIT:
            with self.guard:
                for old in list(itertools.islice(made, MADE_FROM_LIMIT // 2)):
                    del made[old]
                self._made_rebuild = True

    def next_seq(self) -> int:
        """Give the value being yielded its id."""
        self.seq += 1
        return self.seq

    def processed_by(self, topic: str, agent: str) -> StageIds:
        """The ids one agent finished from one topic (created on the first such value)."""
        key = (topic, agent)
        ids = self.processed.get(key)
        if ids is None:
            ids = self.processed[key] = StageIds()
            self.agents[agent] = None
        return ids

    def note_downstream(self, hop: str, cause: Cause, seq: int, note: str) -> None:
        """Value ``seq`` of this source was lost at a later hop, row ``hop``, by ``cause`` (the
        caller holds the ledger's lock)."""
        if seq <= self.floor:
            return
        key = downstream_key(hop, cause)
        ids = self.downstream.get(key)
        if ids is None:
            ids = self.downstream[key] = StageIds()
        ids.ids.add(seq)
        if note:
            self.downstream_notes[key] = note

    def was_processed(self, seq: int, agent: str | None = None) -> bool:
        """This agent (None: any) already finished this value: a later copy of it must not mark it
        damaged. Another agent reading the same topic finishing it says nothing about this one."""
        return any(
            seq in ids.ids for (_, by), ids in list(self.processed.items()) if agent is None or by == agent
        )

    def note_landed(self, topic: str, landed: dict[int, tuple[list[int], list[int]]]) -> None:
        """The broker acknowledged these values, per partition ``ids`` at ``offsets`` in this
        order; partition -1 (a channel's queue) keeps no order."""
        for partition, (ids, offsets) in landed.items():
            if partition >= 0:
                self._landing(topic, partition).note(ids, offsets)

    def note_read_here(self, topic: str, seqs: list[int], partitions: list[int], offsets: list[int]) -> None:
        """This process's consumer received these values of its own (off these partitions, at
        these offsets): their landing pairs are let go (see :meth:`Landing.forget`), so a report
        carries only the values no consumer here has received — in flight, or skipped."""
        logs = self.landed
        split = by_partition(seqs, partitions, offsets)
        for partition, (ids, at) in split.items():
            log = logs.get((topic, partition))
            if log is not None:
                log.forget(ids, at)

    def _landing(self, topic: str, partition: int) -> Landing:
        log = self.landed.get((topic, partition))
        if log is None:
            log = self.landed[(topic, partition)] = Landing()
        return log

    def note_received(self, topic: str, seqs: list[int], partitions: list[int]) -> None:
        """Values came off ``topic``, ``seqs[i]`` off partition ``partitions[i]``, in this order:
        count them, and count one as a reorder if an id later than it already came off the same
        partition (ids are yielded in order). A duplicate is counted as such, never as a reorder.
        When every id is new (the usual case) they are added in one call; when they also rise,
        each past its partition's last, no value is a reorder, which is checked in C (each
        partition's first and last id of the run), not value by value."""
        ids = self.stage_on(self.received_by, topic)
        new = ids.fresh(seqs)
        if new is not None:
            ids.ids |= new
            if seqs == sorted(seqs):
                known = self.last_by_partition
                firsts = dict(zip(reversed(partitions), reversed(seqs), strict=True))
                if all(first > known.get((topic, p), 0) for p, first in firsts.items()):
                    for partition, top in dict(zip(partitions, seqs, strict=True)).items():
                        known[(topic, partition)] = top
                    return
        add = None if new is not None else ids.add
        known = self.last_by_partition
        lasts: dict[int, int] = {}
        reorders = 0
        for seq, partition in zip(seqs, partitions, strict=True):
            if add is not None and not add(seq):
                continue
            last = lasts.get(partition)
            if last is None:
                last = known.get((topic, partition), 0)
            if seq < last:
                reorders += 1
            else:
                last = seq
            lasts[partition] = last
        for partition, last in lasts.items():
            known[(topic, partition)] = last
        self.reorders += reorders

    def note_processed(self, topic: str, agent: str, seqs: list[int], latencies: list[int]) -> None:
        """``agent`` finished these values from ``topic``, ``latencies[i]`` µs after ``seqs[i]``
        was yielded. A value the agent raised on is not finished (Faust fires the hook anyway,
        from a ``finally``); a redelivered or copied value is not new: its latency was measured
        the first time."""
        ids = self.processed_by(topic, agent)
        crashed = self.crashed_by.get(agent) or self.crashed_by.get("*") or EMPTY_IDS
        new = ids.fresh(seqs)
        if new is not None and (not crashed or crashed.isdisjoint(new)):
            ids.ids |= new
            self.note_latencies(latencies)
            return
        for seq, micros in zip(seqs, latencies, strict=True):
            if seq not in crashed and ids.add(seq):
                self.note_latency(micros)

    def note_latency(self, micros: int) -> None:
        """One value took ``micros`` from yield to processed."""
        self.note_latencies((micros,))

    def note_latencies(self, latencies: list[int] | tuple[int, ...]) -> None:
        """Values took these µs from yield to processed (clamped to the histogram's range)."""
        counts = self.latency
        get = counts.get
        for micros in latencies:
            if micros < 1:
                micros = 1
            elif micros > LATENCY_MAX_US:
                micros = LATENCY_MAX_US
            shift = micros.bit_length() - LATENCY_BITS
            if shift > 0:
                micros = micros >> shift << shift
            counts[micros] = get(micros, 0) + 1

    def note_stall(self, seconds: float) -> None:
        """The generator itself held the thread for ``seconds`` while making one value."""
        self.stalls += 1
        self.longest_stall = max(self.longest_stall, seconds)

    def reset(self) -> None:
        """Start counting afresh from the next value; must run on the Faust loop's thread.

        A foreign record keeps its ids (their origin's floor, known to the watcher, hides the old
        ones); everything else starts from nothing."""
        with self.guard:
            self._reset()

    def _reset(self) -> None:
        if self.foreign:
            self.stalls, self.reorders, self.last_by_partition = 0, 0, {}
            self.latency = {}
            for ids in (*self.received_by.values(), *self.processed.values()):
                ids.duplicates = 0
            return
        self.floor = self.seq
        self.stalls, self.longest_stall, self.reorders = 0, 0.0, 0
        self.last_by_partition = {}
        self.latency = {}
        self.sent_by, self.acked_by, self.received_by = {}, {}, {}
        self.landed = {}
        self.processed = {key: StageIds() for key in self.processed}
        self.damaged = _damaged()
        self.notes = {}
        self.downstream, self.downstream_notes = {}, {}
        self.crashed_by = {}
        self.made_from, self._made_runs, self._made_new = {}, [], []

    def read(self, latency: bool = True) -> SourceState:
        """Copy every stage, latest stage first (see the module docstring), from any thread.

        ``latency=False``: the latency histogram as last encoded (a reader that will not send it
        saves the encoding: a quarter of a worker's reporting CPU when it ran on every report)."""
        self.settle()
        damaged = {cause: FrozenBitMap(ids.ids) for cause, ids in list(self.damaged.items()) if ids.ids}
        processed = {
            key: (FrozenBitMap(ids.ids), ids.duplicates) for key, ids in list(self.processed.items())
        }
        received_by, received, received_dups = _copied(self.received_by)
        acked_by, acked_ids, acked_dups = _copied(self.acked_by)
        sent_by, sent_ids, sent_dups = _copied(self.sent_by)
        per_topic = self.foreign or len({*sent_by, *received_by}) > 1
        return SourceState(
            name=self.name,
            function=self.function,
            code=self.code,
            kind=self.kind,
            on=self.on,
            owner=self.owner,
            seq=self.seq,
            floor=self.floor,
            sent=sent_ids,
            acked=acked_ids,
            received=received,
            sent_by=sent_by if per_topic else {},
            acked_by=acked_by if per_topic else {},
            received_by=received_by if per_topic else {},
            processed={key: ids for key, (ids, _) in processed.items()},
            damaged=damaged,
            notes=dict(self.notes),
            downstream={key: FrozenBitMap(ids.ids) for key, ids in list(self.downstream.items()) if ids.ids},
            downstream_notes=dict(self.downstream_notes),
            made_from=self._outstanding(processed) if self.made_from else (),
            duplicates={
                Stage.SENT: sent_dups,
                Stage.ACKED: acked_dups,
                Stage.RECEIVED: received_dups,
                Stage.PROCESSED: sum(dups for _, dups in processed.values()),
            },
            reorders=self.reorders,
            topics=tuple(self.topics),
            agents=tuple(self.agents),
            stalls=self.stalls,
            longest_stall=self.longest_stall,
            latency_ms={},  # the merge computes it from latency_hist (one way, for one worker or many)
            token=self.token,
            foreign=self.foreign,
            latency_hist=self._latency_encoded() if latency else self._latency_text(),
            acked_at={key: log for key, landing in list(self.landed.items()) if (log := landing.read())},
        )

    def _outstanding(self, processed: dict[tuple[str, str], tuple[FrozenBitMap, int]]) -> tuple[Made, ...]:
        """What of ``made_from`` is not done yet, as runs (the rest is let go): a value is done once
        every agent of this process that reads its topic finished it. A value nothing here finishes
        (sent to a sink, or read in another process) stays until the limit: an acknowledgement
        says nothing of whether a reader will take it. Consecutive hop ids made from consecutive
        ids of one origin are one run (a hop forwarding in order: a handful of runs however many
        values). Runs under the ledger's lock (from :meth:`read`, after the count)."""
        with self.guard:
            made = self.made_from
            new, self._made_new = self._made_new, []  # the loop's thread appends to the fresh list
            if self._made_rebuild:  # the limit dropped the oldest: the runs are made again
                self._made_rebuild, self._made_runs, new = False, [], list(made)
            done = finished_by_all((topic, ids) for (topic, _), (ids, _) in processed.items())
            gone: list[Any] = [
                self.damaged[cause].ids for cause in NAMED_DOWNSTREAM if self.damaged[cause].ids
            ]
            if done is not None:
                gone.append(done)
            if gone and made:  # let go of what is done: a set operation in C, then only those
                removed = BitMap(list(made))  # list(): one C call while the loop's thread adds
                removed &= BitMap.union(*(BitMap(ids) for ids in gone)) if len(gone) > 1 else BitMap(gone[0])
                if removed:
                    for seq in removed:
                        made.pop(seq, None)
                    self._made_runs = _without(self._made_runs, removed)
            runs = self._made_runs
            for seq in sorted(new):
                entry = made.get(seq)
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
                    self._made_rebuild = True
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

    _made_runs: list[Made] = field(default_factory=list, repr=False, compare=False)
    """``made_from`` as runs, kept from read to read: a read adds the values sent since and cuts
    out those done since (a sink's hop holds thousands: made again on every read, twice a second,
    they had cost tens of milliseconds)."""
    _made_new: list[int] = field(default_factory=list, repr=False, compare=False)
    _made_rebuild: bool = field(default=False, repr=False, compare=False)

    def _latency_text(self) -> str:
        synced = self._synced
        return synced[3] if synced is not None and synced[0] is self.latency else ""

    def _latency_encoded(self) -> str:
        """The histogram, brought up to date with the counts and encoded — again only when a value
        was counted since (encoding compresses: done for every source on every report it was most
        of a busy worker's reporting cost). Readers on several threads take turns; the loop's thread
        only ever adds to the counts, or swaps them for new ones at a reset."""
        with self._reading:
            counts = self.latency
            synced = self._synced
            if synced is None or synced[0] is not counts:
                synced = (counts, histogram(), {}, "")
            _, filled, recorded, text = synced
            grown = False
            for micros, n in list(counts.items()):  # one C call: a consistent copy
                more = n - recorded.get(micros, 0)
                if more:
                    filled.record_value(micros, more)
                    recorded[micros] = n
                    grown = True
            if grown or synced is not self._synced:
                text = filled.encode().decode() if filled.get_total_count() else ""
            self._synced = (counts, filled, recorded, text)
            return text


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
