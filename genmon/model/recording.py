"""A run recorded to one file (``--record FILE``), and read back (``genmon replay FILE``).

What the screen shows is a function of two inputs (docs/ARCHITECTURE.md, "The data path"): the
workers' reports, merged by a :class:`~genmon.model.merge.Fleet`, and, at each sample, broker truth
and the time. A recording is those inputs in the order they happened, so a replay rebuilds every
snapshot with the same code, not a copy of what was shown:

* ``report`` — a worker's report as the fleet kept it, in the fleet protocol's bytes
  (:mod:`genmon.model.wire`): a delta on the worker's previous one, a whole checkpoint every
  ``CHECKPOINT_SECONDS`` (and first);
* ``reset`` / ``switch`` — the fleet's floors and switches, as commands changed them;
* ``sample`` — one reading's other inputs: the monotonic and wall times, the broker's state and
  outages, each topic's offsets, the groups' members, the refused records; and how the snapshot of
  it was judged (``advance``: the sampler's clocks moved; ``peek``: judged with them, not moved;
  ``over``: judged with no settle time left, the end of a run whose broker is gone);
* ``log`` — a line of the log panel (genmon's and the app's output), as UTF-8.

Bytes: ``MAGIC``, then blocks — a 4-byte big-endian length and that many bytes — which together
are one Zstandard stream, flushed at the end of each block (the frames of one flush, about a
second). Inflated, the stream is frames: a 4-byte big-endian length, a kind byte, the time (an
8-byte double, the recording's monotonic clock), the payload (a report's JSON as the fleet protocol
writes it before compressing, a sample's or a switch's JSON, a log line). One stream, not a
compressed block per second: a run's reports repeat each other from second to second (the same
rows, the same histograms a little fuller), and Zstandard's window spans minutes of them where
zlib's 32 KB spans one report — a third of the bytes of per-second zlib blocks
(``bench/recording.py``; docs/PERFORMANCE.md). Each block ends on a flush, so a recorder killed
with SIGKILL leaves every block up to its last second readable: a reader stops at a cut block and
says so (``cut``). ``FORMAT`` changes when a reader of the old one would misread the new one.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, cast

import zstandard

from genmon.model.checked import integer, mapping, maybe_text, number, text
from genmon.model.checked import items as checked_items
from genmon.model.snapshot import BrokerInfo, Outage, TopicOffsets

FORMAT = 3
MAGIC = b"GENMON-RECORDING %d\n" % FORMAT
BLOCK = struct.Struct(">I")
"""A block's length: the frames of one flush (about a second), the stream's bytes up to its flush."""
LEVEL = 9
"""Zstandard's level: a second of a 200-pipeline run compresses in milliseconds at it."""
INFLATED_RATIO = 100
INFLATED_FLOOR = 64 * 2**20
"""A recording inflates to at most this many times its bytes (or the floor): genmon's own are about
13 times; a file built to inflate to gigabytes is refused before it does."""
HEAD = struct.Struct(">IBd")
"""A frame's length (kind, time and payload), its kind, its time."""
FRAME_MAX = 64 * 2**20
"""No frame is bigger (a report is at most 1 MB on the wire): a bigger length is a corrupt file."""
CHECKPOINT_SECONDS = 30.0

REPORT, RESET, SWITCH, SAMPLE, LOG = 1, 2, 3, 4, 6
KINDS = {REPORT: "report", RESET: "reset", SWITCH: "switch", SAMPLE: "sample", LOG: "log"}
JUDGED = ("advance", "peek", "over")


class RecordingError(ValueError):
    """A file that is not a recording genmon can read (another format, or not genmon's at all)."""


@dataclass(frozen=True)
class Frame:
    kind: int
    at: float
    payload: bytes


def frame(kind: int, at: float, payload: bytes) -> bytes:
    return HEAD.pack(1 + 8 + len(payload), kind, at) + payload


def packed(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def unpacked(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise RecordingError(f"a damaged frame ({exc})") from None


class Blocks:
    """The writing side of the stream: each call's frames as one block of the file."""

    def __init__(self) -> None:
        self._packer = zstandard.ZstdCompressor(level=LEVEL).compressobj()

    def block(self, frames: bytes) -> bytes:
        data = self._packer.compress(frames) + self._packer.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
        return BLOCK.pack(len(data)) + data if data else b""


@dataclass
class Frames:
    """The frames of a recording's bytes, in order; ``cut``: the file ends inside a frame (the run
    was killed while writing it: everything before it is whole)."""

    frames: list[Frame] = field(default_factory=list)
    cut: bool = False


def read_frames(data: bytes) -> Frames:
    stream = FrameStream(data)
    frames = list(stream)
    return Frames(frames, stream.cut)


class FrameStream:
    """The frames of a recording's bytes, inflated as they are iterated: a replay holds the file's
    bytes and the frames of the moment it plays, never the whole run inflated (an hour of 200
    pipelines inflates to gigabytes). Each iteration reads the stream from its start; ``cut`` is
    known once one has reached the end."""

    def __init__(self, data: bytes) -> None:
        if not data.startswith(MAGIC):
            if data.startswith(b"GENMON-RECORDING "):
                raise RecordingError("a recording of another format: read it with the genmon that wrote it")
            raise RecordingError("not a genmon recording")
        self.data = data
        self.cut = False

    def __iter__(self) -> Iterator[Frame]:
        source = _BlockReader(self.data, len(MAGIC))
        cap = max(INFLATED_FLOOR, INFLATED_RATIO * len(self.data))
        pending = bytearray()
        inflated = 0
        taken: list[Frame] = []
        chunks = zstandard.ZstdDecompressor().read_to_iter(cast(IO[bytes], source), write_size=1 << 20)
        while True:
            try:
                chunk = next(chunks, None)
            except zstandard.ZstdError:
                raise RecordingError(f"a damaged block at byte {source.where:,}") from None
            if chunk is None:
                break
            inflated += len(chunk)
            if inflated > cap:
                raise RecordingError(f"inflates past {cap // 2**20:,} MB: not a recording genmon wrote")
            pending += chunk
            del pending[: _take_frames(pending, taken, source.where)]
            yield from taken
            taken.clear()
        if pending:  # every block ends on a flush: whole frames only
            raise RecordingError(f"a damaged block at byte {source.where:,}")
        self.cut = source.cut


class _BlockReader(io.RawIOBase):
    """The stream's bytes, a block at a time (for the inflater), up to a cut last block."""

    def __init__(self, data: bytes, at: int) -> None:
        super().__init__()
        self.data = memoryview(data)
        self.at = at
        self.where = at
        """Where the block being inflated starts (for a damaged one's message)."""
        self.cut = False

    def readable(self) -> bool:
        return True

    def read(self, _size: int | None = -1) -> bytes:
        data, at = self.data, self.at
        if at >= len(data):
            return b""
        if len(data) - at < BLOCK.size:
            self.cut, self.at = True, len(data)
            return b""
        (length,) = BLOCK.unpack_from(data, at)
        if not 0 < length <= FRAME_MAX:
            raise RecordingError(f"a damaged block at byte {at:,}")
        end = at + BLOCK.size + length
        if end > len(data):
            self.cut, self.at = True, len(data)  # killed while writing its last block
            return b""
        self.where, self.at = at, end
        return bytes(data[at + BLOCK.size : end])


def _take_frames(data: bytearray, frames: list[Frame], where: int) -> int:
    """Append the whole frames at the start of ``data``; how many bytes they took (a frame whose end
    has not been inflated yet waits for the next chunk)."""
    at = 0
    while len(data) - at >= HEAD.size:
        length, kind, time = HEAD.unpack_from(data, at)
        if kind not in KINDS or not 9 <= length <= FRAME_MAX or time != time:
            raise RecordingError(f"a damaged block at byte {where:,}")
        end = at + 4 + length
        if end > len(data):
            break
        frames.append(Frame(kind, time, bytes(data[at + HEAD.size : end])))
        at = end
    return at


# -- a sample's inputs ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sample:
    """Everything a reading takes besides the fleet's reports (see :meth:`Fleet.reading`)."""

    now: float
    wall: float
    uptime: float
    broker: BrokerInfo
    offsets: Mapping[str, TopicOffsets]
    members: Mapping[str, int]
    settle_seconds: float
    log_path: str | None
    listening_rows: bool
    rejected: int = 0
    unverified: Mapping[str, int] = field(default_factory=dict)
    judged: str = "advance"

    def to_doc(self) -> dict[str, Any]:
        b = self.broker
        return {
            "now": self.now,
            "wall": self.wall,
            "uptime": self.uptime,
            "broker": {
                "url": b.url,
                "embedded": b.embedded,
                "up": b.up,
                "state": b.state,
                "outages": [[o.state, o.start, o.end, o.since, o.until] for o in b.outages],
                "memory": b.memory_bytes,
                "memory_warning": b.memory_warning_bytes,
                "restarts": list(b.restarts),
            },
            "offsets": [
                [
                    o.topic,
                    o.partitions,
                    o.on_topic,
                    o.group,
                    o.committed,
                    [[p, c] for p, c in o.committed_by.items()],
                    [[p, s] for p, s in o.starts.items()],
                ]
                for o in self.offsets.values()
            ],
            "members": dict(self.members),
            "settle": self.settle_seconds,
            "log": self.log_path,
            "listening": self.listening_rows,
            "rejected": self.rejected,
            "unverified": dict(self.unverified),
            "judged": self.judged,
        }


def sample_from(doc: Any) -> Sample:
    """A sample read back, every field checked (a damaged file is one error, never a traceback)."""
    try:
        d = mapping(doc, "a sample")
        b = mapping(d["broker"], "the broker")
        outages = tuple(
            Outage(
                text(state, "an outage"),
                number(start, "an outage's start", float("-inf"), float("inf")),
                None if end is None else number(end, "an outage's end", float("-inf"), float("inf")),
                text(since, "an outage's time"),
                maybe_text(until, "an outage's time"),
            )
            for state, start, end, since, until in checked_items(b["outages"], "outages")
        )
        broker = BrokerInfo(
            text(b["url"], "the broker's URL"),
            bool(b["embedded"]),
            bool(b["up"]),
            text(b["state"], "the broker's state"),
            outages,
            None if b["memory"] is None else integer(b["memory"], "memory"),
            None if b["memory_warning"] is None else integer(b["memory_warning"], "memory"),
            tuple(text(r, "a restart") for r in checked_items(b["restarts"], "restarts")),
        )
        offsets = {}
        for topic, partitions, on_topic, group, committed, by, starts in checked_items(
            d["offsets"], "offsets"
        ):
            offsets[text(topic, "a topic")] = TopicOffsets(
                text(topic, "a topic"),
                integer(partitions, "partitions"),
                integer(on_topic, "records"),
                maybe_text(group, "a group"),
                None if committed is None else integer(committed, "committed"),
                {
                    integer(p, "a partition"): integer(c, "an offset")
                    for p, c in checked_items(by, "committed")
                },
                {
                    integer(p, "a partition"): integer(s, "an offset")
                    for p, s in checked_items(starts, "starts")
                },
            )
        judged = text(d.get("judged", "advance"), "how it was judged")
        if judged not in JUDGED:
            raise ValueError(f"judged: {judged!r}")
        return Sample(
            now=number(d["now"], "now", float("-inf"), float("inf")),
            wall=number(d["wall"], "wall"),
            uptime=number(d["uptime"], "uptime", float("-inf"), float("inf")),
            broker=broker,
            offsets=offsets,
            members={
                text(g, "a group"): integer(n, "members") for g, n in mapping(d["members"], "members").items()
            },
            settle_seconds=number(d["settle"], "settle"),
            log_path=maybe_text(d["log"], "the log"),
            listening_rows=bool(d["listening"]),
            rejected=integer(d.get("rejected", 0), "rejected"),
            unverified={
                text(k, "a key"): integer(n, "unverified")
                for k, n in mapping(d.get("unverified", {}), "unverified").items()
            },
            judged=judged,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise RecordingError(f"a damaged sample ({exc})") from None
