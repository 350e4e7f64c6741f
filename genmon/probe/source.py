"""Everything the probe knows about one tracked generator: its switch, its ids at every stage.

A *source* is the head of a pipeline. Its stages are filled from several places (the generator
wrapper, the send hooks, the consumer hooks), all on the Faust loop's thread; genmon's host reads
them from another thread, so readers take later stages first: a stage read later can only have
grown, and the screen never shows a later stage ahead of an earlier one because of the read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram
from pyroaring import BitMap

from genmon.probe.ids import StageIds, id_ranges

RANGE_LIMIT = 20
LATENCY_MAX_US = 3_600_000_000  # one hour: anything slower is clamped, not dropped

Ids = tuple[int, tuple[tuple[int, int], ...], bool]
"""(how many ids, their first runs of consecutive ids, whether more runs follow)"""

CAUSES = ("unawaited", "send_failed", "decode_failed", "crashed")
"""Losses genmon sees happen (not inferred from silence), and the stage each one stops short of."""
CAUSE_STAGE = {
    "unawaited": "sent",
    "send_failed": "acked",
    "decode_failed": "received",
    "crashed": "processed",
}


def _ids(ids: BitMap) -> Ids:
    runs, more = id_ranges(ids, RANGE_LIMIT)
    return len(ids), runs, more


@dataclass(frozen=True)
class RawSource:
    """One consistent-enough reading of a source, taken from any thread (later stages first)."""

    name: str
    function: str
    kind: str
    on: bool
    yielded: int
    sent: int
    acked: int
    received: int
    processed: dict[str, int]
    """agent -> values it finished"""
    processed_total: int
    """values finished by every agent that reads the topic they were sent to"""
    duplicates: dict[str, int]
    reorders: int
    topics: tuple[str, ...]
    agents: tuple[str, ...]
    stalls: int
    longest_stall: float
    missing: dict[str, Ids]
    """stage -> ids that reached the stage before but not this one"""
    damaged: dict[str, Ids]
    """cause (see CAUSES) -> ids it hit"""
    latency_ms: dict[str, float]


def _done(processed: dict[tuple[str, str], StageIds]) -> BitMap | None:
    """Ids finished by every agent that reads their topic (fan-out: all of them must finish;
    an agent sending on to two topics: each value counts on its own topic). None: no agent yet."""
    if not processed:
        return None
    per_topic: dict[str, BitMap] = {}
    for (topic, _agent), ids in processed.items():
        seen = per_topic.get(topic)
        per_topic[topic] = BitMap(ids.ids) if seen is None else seen & ids.ids
    return BitMap.union(*per_topic.values())


def _histogram() -> HdrHistogram:
    return HdrHistogram(1, LATENCY_MAX_US, 2)


@dataclass
class Source:
    """A tracked generator as the probe sees it.

    ``seq`` is the id of the last value yielded; ids start at 1. ``floor`` is ``seq`` at the last
    reset: ids at or below it belong to before the reset and are ignored at every stage, so a value
    that was in flight across a reset never makes a later stage exceed an earlier one.
    """

    name: str
    function: str = "?"
    kind: str = "async"
    on: bool = True
    seq: int = 0
    floor: int = 0
    token: str = ""
    header_value_prefix: bytes = b""
    sent: StageIds = field(default_factory=StageIds)
    acked: StageIds = field(default_factory=StageIds)
    received: StageIds = field(default_factory=StageIds)
    processed: dict[tuple[str, str], StageIds] = field(default_factory=dict)
    """(topic, agent) -> ids finished: a value is processed once every agent reading its topic is done"""
    damaged: dict[str, StageIds] = field(default_factory=lambda: {c: StageIds() for c in CAUSES})
    topics: dict[str, None] = field(default_factory=dict)
    agents: dict[str, None] = field(default_factory=dict)
    reorders: int = 0
    last_by_partition: dict[tuple[str, int], int] = field(default_factory=dict)
    latency: HdrHistogram = field(default_factory=_histogram)
    stalls: int = 0
    longest_stall: float = 0.0

    def __post_init__(self) -> None:
        self.header_value_prefix = self.header_key + b":"

    @property
    def header_key(self) -> bytes:
        """``name@token``: the token is per run, so values left on a topic by an earlier run
        (same generator name, same ids) are never counted as this run's."""
        return f"{self.name}@{self.token}".encode()

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

    def note_received(self, seq: int, topic: str, partition: int) -> None:
        """A value came off a partition: count it, and count it as a reorder if an id later than
        it already came off the same partition (ids are yielded in order)."""
        received = self.received
        if seq in received.ids:
            received.duplicates += 1
            return
        received.ids.add(seq)
        key = (topic, partition)
        last = self.last_by_partition.get(key, 0)
        if seq < last:
            self.reorders += 1
        else:
            self.last_by_partition[key] = seq

    def note_stall(self, seconds: float) -> None:
        """The generator itself held the thread for ``seconds`` while making one value."""
        self.stalls += 1
        self.longest_stall = max(self.longest_stall, seconds)

    def reset(self) -> None:
        """Start counting afresh from the next value; must run on the Faust loop's thread."""
        self.floor = self.seq
        self.stalls, self.longest_stall, self.reorders = 0, 0.0, 0
        self.last_by_partition = {}
        self.latency = _histogram()
        self.sent = StageIds()
        self.acked = StageIds()
        self.received = StageIds()
        self.processed = {key: StageIds() for key in self.processed}
        self.damaged = {cause: StageIds() for cause in CAUSES}

    def read(self) -> RawSource:
        """Read every stage, latest stage first (see the module docstring)."""
        damaged = {cause: BitMap(ids.ids) for cause, ids in self.damaged.items()}
        processed_ids = dict(self.processed)
        processed: dict[str, int] = {}
        for (_topic, agent), ids in processed_ids.items():
            processed[agent] = processed.get(agent, 0) + len(ids)
        done = _done(processed_ids)
        received, acked, sent = self.received, self.acked, self.sent
        counts = (len(received), len(acked), len(sent))
        seq, floor = self.seq, self.floor
        missing = self._missing(seq, floor, sent.ids, acked.ids, received.ids, done)
        duplicates = {
            "sent": sent.duplicates,
            "acked": acked.duplicates,
            "received": received.duplicates,
            "processed": sum(ids.duplicates for ids in processed_ids.values()),
        }
        latency = self.latency
        total = latency.get_total_count()
        latency_ms = (
            {
                "count": float(total),
                **{f"p{p}": latency.get_value_at_percentile(p) / 1000.0 for p in (50, 95, 99)},
                "max": latency.get_max_value() / 1000.0,
            }
            if total
            else {}
        )
        return RawSource(
            name=self.name,
            function=self.function,
            kind=self.kind,
            on=self.on,
            yielded=seq - floor,
            sent=counts[2],
            acked=counts[1],
            received=counts[0],
            processed=processed,
            processed_total=len(done) if done is not None else 0,
            duplicates=duplicates,
            reorders=self.reorders,
            topics=tuple(self.topics),
            agents=tuple(self.agents),
            missing=missing,
            damaged={cause: _ids(ids) for cause, ids in damaged.items() if ids},
            latency_ms=latency_ms,
            stalls=self.stalls,
            longest_stall=self.longest_stall,
        )

    @staticmethod
    def _missing(
        seq: int,
        floor: int,
        sent: BitMap,
        acked: BitMap,
        received: BitMap,
        done: BitMap | None,
    ) -> dict[str, Ids]:
        """Which ids reached each stage's predecessor but not the stage: the *which* behind a count."""
        yielded = BitMap()
        if seq > floor:
            yielded.add_range(floor + 1, seq + 1)
        pairs = {
            "sent": yielded - sent,
            "acked": sent - acked,
            "received": acked - received,
            "processed": received - done if done is not None else BitMap(received),
        }
        return {stage: _ids(ids) for stage, ids in pairs.items() if ids}
