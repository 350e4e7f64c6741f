"""The raw state the probes and the host hand to snapshot assembly: sets of ids, not verdicts.

These are what a process *knows* at one moment (which ids reached which stage, which app is in
which state); :mod:`genmon.model.assemble` turns them into what the user is *told* (counts,
missing ids, verdicts, rows in flow order). Keeping ids here, not counts, is what lets readings be
combined exactly (a union per stage) wherever they come from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from pyroaring import FrozenBitMap, FrozenBitMap64

from genmon.model.ids import FrozenIds
from genmon.model.snapshot import BrokerInfo, LoopStalls, TopicOffsets, WorkerStatus
from genmon.model.vocabulary import AppState, Cause, RowKind, Stage

EMPTY = FrozenBitMap()
NO_OFFSETS = FrozenBitMap64()


class Made(NamedTuple):
    """A run of a hop's ids made from consecutive ids of one origin: hop ids ``first`` … ``last``
    from the origin's ``origin_first`` … (see ``ORIGIN`` in genmon/probe/runtime.py)."""

    first: int
    last: int
    origin: str
    """``name@token``: the origin's source, as its ``genmon-id`` header names it."""
    origin_first: int
    since_us: int
    """When the hop sent its first value of the run, and its last (µs since the epoch)."""
    until_us: int

    def origins(self, hop_ids: Iterable[int]) -> list[int]:
        """The origin's ids of those of ``hop_ids`` in this run."""
        shift = self.origin_first - self.first
        return [seq + shift for seq in hop_ids if self.first <= seq <= self.last]


@dataclass(frozen=True)
class AckLog:
    """Where one source's values landed on one partition: their ids and their offsets, the k-th
    smallest id at the k-th smallest offset.

    That pairing holds while the source's values reach the partition in id order (one sender
    sending its values in order: the usual case); ``ordered`` is False once one did not, and then
    no offset is known for this partition (its values are judged by the quiet rule instead).
    Offsets are a 64-bit roaring bitmap: a partition's offsets run on consecutively while one
    producer writes it, which roaring keeps in a few bytes however long the run.
    """

    ids: FrozenIds = EMPTY
    offsets: FrozenBitMap64 = NO_OFFSETS
    ordered: bool = True

    def below(self, offset: int) -> int:
        """How many of the ids landed before ``offset`` (they are the that many smallest ids)."""
        return self.offsets.rank(offset - 1) if offset > 0 else 0

    def offset_of(self, rank: int) -> int:
        """The offset of the id of this rank (0: the smallest)."""
        return int(self.offsets[rank])


def downstream_key(hop: str, cause: Cause) -> str:
    """How a later hop's loss is keyed in ``SourceState.downstream`` (a string: it travels in JSON
    and merges like any other id map)."""
    return f"{cause}\t{hop}"


def split_downstream(key: str) -> tuple[str, Cause]:
    """``(hop, cause)`` of a ``downstream_key``."""
    cause, _, hop = key.partition("\t")
    return hop, Cause(cause)


@dataclass(frozen=True)
class SourceState:
    """One source (a tracked generator, or code that sends) as the probe saw it.

    ``seq`` is the id of the last value yielded (ids start at 1); ids at or below ``floor`` belong
    to before the last reset and appear at no stage.
    """

    name: str
    function: str
    kind: RowKind
    code: str = ""
    """``path:line`` where the source's function is defined (a tracked generator's), or empty."""
    on: bool = True
    owner: str | None = None
    """The label of the app run whose code declared or fed this source."""
    seq: int = 0
    floor: int = 0
    sent: FrozenIds = EMPTY
    acked: FrozenIds = EMPTY
    received: FrozenIds = EMPTY
    sent_by: Mapping[str, FrozenIds] = field(default_factory=dict)
    """Per topic, when the source sent to several (fan-out) or is another process's (a receiver in
    a fleet): ``sent``/``acked``/``received`` are then the unions, and a value has reached a stage
    only once it reached it on every topic it was sent to. Empty for a single topic."""
    acked_by: Mapping[str, FrozenIds] = field(default_factory=dict)
    received_by: Mapping[str, FrozenIds] = field(default_factory=dict)
    processed: Mapping[tuple[str, str], FrozenIds] = field(default_factory=dict)
    """(topic, agent) -> ids that agent finished from that topic"""
    damaged: Mapping[Cause, FrozenIds] = field(default_factory=dict)
    notes: Mapping[Cause, str] = field(default_factory=dict)
    """cause -> what genmon saw happen (``agent count raised KeyError('x')``): named in the verdict."""
    downstream: Mapping[str, FrozenIds] = field(default_factory=dict)
    """``downstream_key(hop, cause)`` -> ids of this row's values lost at a later hop (see ``ORIGIN``
    in genmon/probe/runtime.py): the hop's row counts in its own ids, this one names the originals."""
    downstream_notes: Mapping[str, str] = field(default_factory=dict)
    """The same keys -> what genmon saw happen there."""
    made_from: tuple[Made, ...] = ()
    """A hop's row: what its values not yet done (processed where it runs) were made from, as runs
    of ids: a silent loss at this hop is named in its origins' ids (:mod:`genmon.model.hops`)."""
    duplicates: Mapping[Stage, int] = field(default_factory=dict)
    reorders: int = 0
    topics: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()
    stalls: int = 0
    longest_stall: float = 0.0
    latency_ms: Mapping[str, float] = field(default_factory=dict)
    token: str = ""
    """The probe's run token: ``name@token`` is the *origin* of this source's ids (a process's run)."""
    foreign: bool = False
    """Only what this process received and processed of another process's source (a fleet): the
    sending stages are in the origin's own report."""
    latency_hist: str = ""
    """Yield → processed latencies, HdrHistogram-encoded, so a fleet's are added exactly."""
    expected: FrozenIds | None = None
    """The ids yielded, when they are not simply ``floor+1 … seq`` (merged from several origins)."""
    switching: str | None = None
    """Set while a switch has not reached every worker yet (``switching off: 2 of 3 workers``)."""
    acked_at: Mapping[tuple[str, int], AckLog] = field(default_factory=dict)
    """(topic, partition) -> where the acknowledged values landed (the sending process knows)."""
    lifted_at: tuple[tuple[str, int, AckLog], ...] = ()
    """A row merged from one generator running in several workers: each worker's logs, its ids
    lifted as the row's are (``worker << 32 | id``), several per partition."""

    def landings(self) -> list[tuple[str, int, AckLog]]:
        """Every log of where this row's values landed: (topic, partition, log)."""
        return [(topic, partition, log) for (topic, partition), log in self.acked_at.items()] + list(
            self.lifted_at
        )

    @property
    def yielded(self) -> int:
        return len(self.expected) if self.expected is not None else self.seq - self.floor

    @property
    def origin(self) -> str:
        return f"{self.name}@{self.token}"

    def evolve(self, **changes: object) -> SourceState:
        """``dataclasses.replace`` without running ``__init__`` again: a frozen dataclass's
        ``__init__`` sets each of the ~30 fields through ``object.__setattr__``, and merging a fleet
        copies every row on every report. Valid because the class has no ``__post_init__`` to run."""
        unknown = changes.keys() - _SOURCE_FIELDS
        if unknown:
            raise TypeError(f"SourceState has no field {', '.join(sorted(unknown))}")
        new = object.__new__(SourceState)
        fields = new.__dict__
        fields.update(self.__dict__)
        fields.update(changes)
        return new


_SOURCE_FIELDS = frozenset(SourceState.__dataclass_fields__)
assert not hasattr(SourceState, "__post_init__"), "SourceState.evolve skips __init__"


@dataclass(frozen=True)
class InboundState:
    """Messages without an id of this run consumed from one topic (sent by code genmon does not see)."""

    topic: str
    received: int = 0
    processed: Mapping[str, int] = field(default_factory=dict)
    """agent -> messages it finished"""


@dataclass(frozen=True)
class AppReading:
    """One Faust app run as the host sees it."""

    label: str
    """The host's name for the run (``app0`` …): sources record it as their owner."""
    app_id: str
    state: AppState
    error: str | None = None
    readers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """topic -> the agents of this app that read it"""
    assigned: frozenset[str] | None = None
    """Topics the app's consumer has partitions of (None: not known yet)."""
    stalls: LoopStalls = field(default_factory=LoopStalls)
    gone: tuple[str, ...] = ()
    """Workers of this app that stopped reporting without a final report (``w2 died at 10:03:04``):
    what they did since their last report cannot be known, so a shortfall is unverifiable, not lost."""
    members: int = 1
    """How many of the consumers in this app's group are genmon's (its live workers): the broker may
    name more (another instance of the app takes a share of the partitions)."""
    positions: Mapping[tuple[str, int], tuple[int, int]] = field(default_factory=dict)
    """(topic, partition) -> the first and the last offset of genmon's values this app's consumer
    received there: Kafka delivers a partition in order, so a value of ours that lies before the
    last and was never received was skipped."""
    offset_reset: str = "earliest"
    """The app's ``consumer_auto_offset_reset``: where its consumer starts without a committed offset."""
    not_imported: tuple[str, ...] = ()
    """``module: error`` per module the app's autodiscovery could not import (its agents and tasks
    do not run)."""
    declared: Mapping[str, int] = field(default_factory=dict)
    """topic -> the partitions the app declares for it (each topic an agent reads): a topic created
    by someone else (a first send, with the broker's default) may have another count."""
    crashes: Mapping[str, tuple[str, float]] = field(default_factory=dict)
    windows: Mapping[str, float] = field(default_factory=dict)
    """agent -> the longest ``stream.take(n, within=W)`` window it batches with: a value may wait W
    seconds in its buffer by design, so its processed stage is not quiet before that."""
    """agent -> (what it raised, ``agent by_user raised RuntimeError('bad click 7')``; when, wall
    clock) for its latest crash: an agent that stopped reading after it is why values wait."""


@dataclass(frozen=True)
class Reading:
    """Everything snapshot assembly needs, taken at ``now`` (seconds on a monotonic clock)."""

    now: float
    broker: BrokerInfo
    apps: tuple[AppReading, ...]
    sources: tuple[SourceState, ...] = ()
    inbound: Mapping[str, InboundState] = field(default_factory=dict)
    offsets: Mapping[str, TopicOffsets] = field(default_factory=dict)
    settle_seconds: float = 5.0
    log_path: str | None = None
    uptime: float = 0.0
    listening_rows: bool = False
    """Add a row per topic an agent reads that no followed source sends to (``-A``)."""
    workers: tuple[WorkerStatus, ...] = ()
    """The processes the reading was merged from (one, unless a fleet is watched)."""
    group_members: Mapping[str, int] = field(default_factory=dict)
    """Consumer group -> the members the broker lists in it (broker truth; absent: not known)."""
    wall: float = 0.0
    """``now`` on the wall clock (what workers stamp their events with)."""
    rejected: int = 0
    """Records on the reports topic refused as not a readable report (hostile or foreign)."""
    unverified: Mapping[str, int] = field(default_factory=dict)
    """With a secret: reports refused as not signed with it, by the key id they claim."""
    switches_refused: str | None = None
    """Why the broker refused the watcher's last switch (an ACL), or None."""
