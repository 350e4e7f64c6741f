"""Everything the probe knows about one tracked generator: its switch, its ids at every stage.

A *source* is the head of a pipeline. Its stages are filled from several places (the generator
wrapper, the send hooks, the consumer hooks), all on the Faust loop's thread; genmon's host reads
them from another thread, so readers take later stages first: a stage read later can only have
grown, and the screen never shows a later stage ahead of an earlier one because of the read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyroaring import BitMap

from genmon.probe.ids import StageIds, id_ranges

RANGE_LIMIT = 20


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
    send_failed: int
    received: int
    processed: dict[str, int]
    duplicates: dict[str, int]
    topics: tuple[str, ...]
    agents: tuple[str, ...]
    stalls: int
    longest_stall: float
    missing: dict[str, tuple[int, tuple[tuple[int, int], ...], bool]]
    """stage -> (how many ids reached the stage before but not this one, their first runs, more?)"""


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
    send_failed: StageIds = field(default_factory=StageIds)
    received: StageIds = field(default_factory=StageIds)
    processed: dict[str, StageIds] = field(default_factory=dict)
    topics: dict[str, None] = field(default_factory=dict)
    agents: dict[str, None] = field(default_factory=dict)
    stalls: int = 0
    longest_stall: float = 0.0

    def note_stall(self, seconds: float) -> None:
        """The generator itself held the thread for ``seconds`` while making one value."""
        self.stalls += 1
        self.longest_stall = max(self.longest_stall, seconds)

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

    def processed_by(self, agent: str) -> StageIds:
        """The processed ids of one agent (created on the agent's first value)."""
        ids = self.processed.get(agent)
        if ids is None:
            ids = self.processed[agent] = StageIds()
            self.agents[agent] = None
        return ids

    def reset(self) -> None:
        """Start counting afresh from the next value; must run on the Faust loop's thread."""
        self.floor = self.seq
        self.stalls, self.longest_stall = 0, 0.0
        self.sent = StageIds()
        self.acked = StageIds()
        self.send_failed = StageIds()
        self.received = StageIds()
        self.processed = {agent: StageIds() for agent in self.processed}

    def read(self) -> RawSource:
        """Read every stage, latest stage first (see the module docstring)."""
        processed_ids = dict(self.processed)
        processed = {agent: len(ids) for agent, ids in processed_ids.items()}
        received = self.received
        acked, failed, sent = self.acked, self.send_failed, self.sent
        counts = (len(received), len(acked), len(failed), len(sent))
        seq, floor = self.seq, self.floor
        yielded = seq - floor
        missing = self._missing(seq, floor, sent.ids, acked.ids, received.ids, processed_ids)
        duplicates = {
            "sent": sent.duplicates,
            "acked": acked.duplicates,
            "received": received.duplicates,
            "processed": sum(ids.duplicates for ids in processed_ids.values()),
        }
        return RawSource(
            name=self.name,
            function=self.function,
            kind=self.kind,
            on=self.on,
            yielded=yielded,
            sent=counts[3],
            acked=counts[1],
            send_failed=counts[2],
            received=counts[0],
            processed=processed,
            duplicates=duplicates,
            topics=tuple(self.topics),
            agents=tuple(self.agents),
            missing=missing,
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
        processed: dict[str, StageIds],
    ) -> dict[str, tuple[int, tuple[tuple[int, int], ...], bool]]:
        """Which ids reached each stage's predecessor but not the stage: the *which* behind a count."""
        yielded = BitMap()
        if seq > floor:
            yielded.add_range(floor + 1, seq + 1)
        done = None
        for ids in processed.values():
            done = BitMap(ids.ids) if done is None else done & ids.ids
        pairs = {
            "sent": yielded - sent,
            "acked": sent - acked,
            "received": acked - received,
            "processed": received - done if done is not None else BitMap(received),
        }
        out = {}
        for stage, ids in pairs.items():
            if ids:
                runs, more = id_ranges(ids, RANGE_LIMIT)
                out[stage] = (len(ids), runs, more)
        return out
