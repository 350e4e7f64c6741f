"""Everything the probe knows about one source: its switch, and its ids at every stage.

A *source* is the head of a pipeline: a tracked generator, or code that sends. The generator
wrapper gives values their ids on the Faust loop's thread; the sensor's hooks queue what they see and
the probe's ledger counts it into the id sets (:mod:`genmon.probe.ledger`), under the ledger's lock,
on whichever thread reads. :meth:`Source.read` counts the queue, then copies later stages first: a
stage copied later can only have grown, so no later stage is ever shown ahead of an earlier one
because of the read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram
from pyroaring import BitMap, FrozenBitMap

from genmon.model import CAUSES, Cause, RowKind, SourceState, Stage, downstream_key
from genmon.model.ids import finished_by_all
from genmon.model.latency import LATENCY_MAX_US, histogram
from genmon.probe.hop_origins import NAMED_DOWNSTREAM, HopOrigins
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
    made_from: HopOrigins = field(default_factory=HopOrigins)
    """A hop's row: what each of its values not yet done was made from (see
    :mod:`genmon.probe.hop_origins`)."""
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
        (µs): on the loop's thread, once per hop's send."""
        self.made_from.add(seq, origin, at, self.guard)

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
        self.made_from = HopOrigins()

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
            made_from=self.made_from.outstanding(
                finished_by_all((topic, ids) for (topic, _), (ids, _) in processed.items()),
                [self.damaged[cause].ids for cause in NAMED_DOWNSTREAM if self.damaged[cause].ids],
                self.guard,
            )
            if self.made_from
            else (),
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
