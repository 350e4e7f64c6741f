"""What one worker process tells the watcher, and its bytes on genmon's snapshot topic.

A worker (a process running Faust apps with genmon's probe) reports what it knows: its apps, and
per source the ids it saw at each stage. The watcher merges the reports of every worker
(:mod:`genmon.model.merge`). The format is documented in ``docs/FLEET.md``; ``FORMAT`` changes when a
reader of the old one would misread the new one.

Bytes: a JSON document compressed with zlib. Id sets travel as pyroaring's portable serialization,
``run_optimize``\\ d first (runs of consecutive ids cost a few bytes however long they are) and base64
encoded in the JSON — or, when that is smaller, as a bit per id from the set's first to its last (a
delta's few hundred ids scattered over a worker's partitions: roaring spends 16 bits on each). A
report larger than ``MAX_REPORT_BYTES`` keeps its counts but drops the id sets of its largest stages
and says so (``truncated``): a default Kafka refuses messages over 1 MB.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pyroaring import BitMap, BitMap64, FrozenBitMap, FrozenBitMap64

from genmon.model.snapshot import LoopStalls
from genmon.model.state import AckLog, AppReading, InboundState, SourceState, downstream_key, split_downstream
from genmon.model.vocabulary import AppState, Cause, RowKind, Stage

FORMAT = 2
"""Reports: 2 since id sets may travel as bits (a reader of 1 would refuse them)."""
BITS_SPAN_MAX = 8192
"""An id set is sent as bits only when its first and last id are at most this far apart."""
PLAIN_IDS = 64
"""Up to this many ids of a partition's landing log travel as plain lists of ints."""
MAX_REPORT_BYTES = 900_000
"""Below a default Kafka's 1 MB message limit, with room for the record's own overhead."""


ZDICT = (
    b'"kind":"async","on":true,"owner":"app0","seq":0,"floor":0,"token":"","foreign":true,'
    b'"sent":"OjAAAAAAAAA=","acked":{"minus":"OjAAAAAAAAA="},"received":"OjAAAAAAAAA=",'
    b'"processed":[["","",{"minus":"OjAAAAAAAAA="}]],"damaged":{},"duplicates":{},"reorders":0,'
    b'"topics":[],"agents":[],"stalls":0,"longest_stall":0.0,"latency":""},{"name":"","function":"?",'
    b'"state":"running","error":null,"readers":{},"assigned":[],"stalls":[0,0.0,null,0.0]}],'
    b'{"format":2,"worker":"","host":"","pid":0,"started":0,"at":0,"number":0,"final":false,'
    b'"interval":1.0,"control":0,"apps":[{"label":"app0","app_id":"","sources":[{"name":"",'
    b'"inbound":[],"consumed":[],"truncated":[],"delta":true}'
)
"""zlib's preset dictionary for reports: the JSON every report repeats (keys, empty id sets), so a
small delta costs its news, not its field names. Part of the format: changing it changes FORMAT."""


class WireError(ValueError):
    """Bytes that are not a report genmon can read (another format, or not genmon's at all)."""


@dataclass(frozen=True)
class WorkerReport:
    """One worker's state at ``at`` (seconds since the epoch, the worker's clock)."""

    worker: str
    """``host:pid:token``: unique per process run, the snapshot topic's key."""
    host: str
    pid: int
    started: float
    at: float
    number: int
    """Reports this worker made before this one: the watcher keeps only the newest."""
    apps: tuple[AppReading, ...] = ()
    sources: tuple[SourceState, ...] = ()
    inbound: Mapping[str, InboundState] = field(default_factory=dict)
    consumed: tuple[str, ...] = ()
    """Every topic a message was consumed from (repartition topics included)."""
    final: bool = False
    """The worker stopped cleanly: nothing happens after this report."""
    interval: float = 1.0
    """How often the worker reports at the latest (heartbeat): silence for 3 intervals is death."""
    control: int = 0
    """The number of control records the worker has applied (its switches are confirmed up to it)."""
    truncated: tuple[str, ...] = ()
    """``source/stage`` whose ids did not fit in one message: counts only."""
    delta: bool = False
    """The id sets are only those added since this worker's report ``number - 1`` (every other
    field is current): a watcher folds it into what it has (:func:`fold`). Otherwise a checkpoint."""

    @property
    def name(self) -> str:
        return f"{self.host}:{self.pid}"

    @property
    def key(self) -> bytes:
        """The record's key: compaction keeps each worker's newest checkpoint; deltas are unique."""
        return (self.worker if not self.delta else f"{self.worker}#{self.number}").encode()


NONE = FrozenBitMap()


def _ids(bitmap: Any) -> str | list[Any]:
    """An id set: roaring's bytes in base64, or ``[first id, bits in base64]`` when that is
    smaller (bit ``i`` of the bytes, little-endian, is id ``first + i``)."""
    copy = BitMap(bitmap)
    copy.run_optimize()
    packed = copy.serialize()
    if copy and len(copy) <= BITS_SPAN_MAX:
        low = copy.min()
        span = copy.max() - low + 1
        if span <= BITS_SPAN_MAX and (span + 7) // 8 + 8 < len(packed):
            bits = bytearray((span + 7) // 8)
            for value in copy:
                at = value - low
                bits[at >> 3] |= 1 << (at & 7)
            return [low, base64.b64encode(bytes(bits)).decode()]
    return base64.b64encode(packed).decode()


def _bitmap(value: str | list[Any]) -> FrozenBitMap:
    if isinstance(value, list):
        low, text = value
        raw = base64.b64decode(text)
        if len(raw) * 8 > BITS_SPAN_MAX + 7 or not isinstance(low, int) or low < 0:
            raise ValueError("an id set's bits out of range")
        flags = bin(int.from_bytes(raw, "little"))[:1:-1]  # bit 0 first
        return FrozenBitMap(low + at for at, flag in enumerate(flags) if flag == "1")
    return FrozenBitMap.deserialize(base64.b64decode(value))


def _within(ids: Any, base: Any) -> Any:
    """``ids`` as ``{"minus": base - ids}`` when it is a subset of ``base`` (acked of sent, processed
    of received: usually all of it, so the gaps are nearly empty), else as itself."""
    if base and ids and ids.issubset(base):
        return {"minus": _ids(base - ids)}
    return _ids(ids)


def _within_from(value: Any, base: FrozenBitMap) -> FrozenBitMap:
    return FrozenBitMap(base - _bitmap(value["minus"])) if isinstance(value, dict) else _bitmap(value)


def _source(src: SourceState) -> dict[str, Any]:
    return {
        "name": src.name,
        "function": src.function,
        "kind": src.kind,
        "on": src.on,
        "owner": src.owner,
        "seq": src.seq,
        "floor": src.floor,
        "token": src.token,
        "foreign": src.foreign,
        "sent": _ids(src.sent),
        "acked": _within(src.acked, src.sent),
        "received": _ids(src.received),
        "processed": [[t, a, _within(ids, src.received)] for (t, a), ids in src.processed.items()],
        "by_topic": {
            t: [
                _within(src.sent_by.get(t, NONE), src.sent),
                _within(src.acked_by.get(t, NONE), src.acked),
                _within(src.received_by.get(t, NONE), src.received),
            ]
            for t in {*src.sent_by, *src.acked_by, *src.received_by}
        },
        "damaged": {cause: _ids(ids) for cause, ids in src.damaged.items()},
        "notes": dict(src.notes),
        "downstream": {key: _ids(ids) for key, ids in src.downstream.items()},
        "downstream_notes": dict(src.downstream_notes),
        "duplicates": {stage: n for stage, n in src.duplicates.items()},
        "reorders": src.reorders,
        "topics": list(src.topics),
        "agents": list(src.agents),
        "stalls": src.stalls,
        "longest_stall": src.longest_stall,
        "latency": src.latency_hist,
        "acked_at": [_acked_at(topic, partition, log) for (topic, partition), log in src.acked_at.items()],
    }


def _offsets(offsets: FrozenBitMap64) -> str:
    """A partition's offsets: roaring64's bytes in base64, runs of consecutive offsets compressed."""
    copy = BitMap64(offsets)
    copy.run_optimize()
    return base64.b64encode(copy.serialize()).decode()


def _acked_at(topic: str, partition: int, log: AckLog) -> list[Any]:
    """``[topic, partition, ids, offsets, ordered]``; a delta's few values as plain lists of ints
    (a tenth of the cost of two bitmaps to write and read), more as bitmaps."""
    if len(log.ids) <= PLAIN_IDS:
        return [topic, partition, list(log.ids), list(log.offsets), log.ordered]
    return [topic, partition, _ids(log.ids), _offsets(log.offsets), log.ordered]


def _acked_at_from(items: list[Any]) -> dict[tuple[str, int], AckLog]:
    """``[[topic, partition, ids, offsets, ordered], …]`` back to logs."""
    logs = {}
    for topic, partition, ids, offsets, ordered in items:
        if not isinstance(topic, str) or not isinstance(partition, int):
            raise ValueError("a malformed acked_at entry")
        if isinstance(offsets, list):  # plain lists
            log = AckLog(FrozenBitMap(ids), FrozenBitMap64(offsets), bool(ordered))
        elif isinstance(offsets, str):
            log = AckLog(_bitmap(ids), FrozenBitMap64.deserialize(base64.b64decode(offsets)), bool(ordered))
        else:
            raise ValueError("a malformed acked_at entry")
        if len(log.ids) != len(log.offsets):
            raise ValueError("an acked_at entry's ids and offsets do not pair")
        logs[(topic, partition)] = log
    return logs


def _by_topic_from(
    d: Mapping[str, Any], sent: FrozenBitMap, acked: FrozenBitMap, received: FrozenBitMap
) -> dict[str, dict[str, FrozenBitMap]]:
    """``sent_by``/``acked_by``/``received_by`` from ``{topic: [sent, acked, received]}`` (each
    written as the gaps in the stage's union: one topic of several usually has most of it)."""
    out: dict[str, dict[str, FrozenBitMap]] = {"sent_by": {}, "acked_by": {}, "received_by": {}}
    for topic, (s, a, r) in d.items():
        for key, value, base in (("sent_by", s, sent), ("acked_by", a, acked), ("received_by", r, received)):
            ids = _within_from(value, base)
            if ids:
                out[key][topic] = ids
    return out


def _source_from(d: Mapping[str, Any]) -> SourceState:
    sent, received = _bitmap(d["sent"]), _bitmap(d["received"])
    acked = _within_from(d["acked"], sent)
    by_topic = _by_topic_from(d.get("by_topic", {}), sent, acked, received)
    return SourceState(
        name=d["name"],
        function=d["function"],
        kind=RowKind(d["kind"]),
        on=d["on"],
        owner=d["owner"],
        seq=d["seq"],
        floor=d["floor"],
        token=d["token"],
        foreign=d["foreign"],
        sent=sent,
        acked=acked,
        received=received,
        processed={(topic, agent): _within_from(ids, received) for topic, agent, ids in d["processed"]},
        sent_by=by_topic["sent_by"],
        acked_by=by_topic["acked_by"],
        received_by=by_topic["received_by"],
        damaged={Cause(cause): _bitmap(ids) for cause, ids in d["damaged"].items()},
        notes={Cause(cause): text for cause, text in d.get("notes", {}).items()},
        downstream={_downstream(key): _bitmap(ids) for key, ids in d.get("downstream", {}).items()},
        downstream_notes={_downstream(key): str(text) for key, text in d.get("downstream_notes", {}).items()},
        duplicates={Stage(stage): n for stage, n in d["duplicates"].items()},
        reorders=d["reorders"],
        topics=tuple(d["topics"]),
        agents=tuple(d["agents"]),
        stalls=d["stalls"],
        longest_stall=d["longest_stall"],
        latency_hist=d["latency"],
        acked_at=_acked_at_from(d.get("acked_at", [])),
    )


def _downstream(key: Any) -> str:
    """A ``downstream_key`` read back, checked: its cause must be one genmon knows."""
    hop, cause = split_downstream(str(key))
    return downstream_key(hop, cause)


def _stalls(s: LoopStalls) -> list[Any]:
    return [s.count, s.longest, s.longest_at, s.ongoing]


def _app(app: AppReading) -> dict[str, Any]:
    return {
        "label": app.label,
        "app_id": app.app_id,
        "state": app.state,
        "error": app.error,
        "readers": {topic: list(agents) for topic, agents in app.readers.items()},
        "assigned": None if app.assigned is None else sorted(app.assigned),
        "stalls": _stalls(app.stalls),
        "positions": [
            [topic, partition, first, last] for (topic, partition), (first, last) in app.positions.items()
        ],
        "offset_reset": app.offset_reset,
        "not_imported": list(app.not_imported),
        "crashes": [[agent, note, at] for agent, (note, at) in app.crashes.items()],
        "declared": dict(app.declared),
    }


def _app_from(d: Mapping[str, Any]) -> AppReading:
    return AppReading(
        label=d["label"],
        app_id=d["app_id"],
        state=AppState(d["state"]),
        error=d["error"],
        readers={topic: tuple(agents) for topic, agents in d["readers"].items()},
        assigned=None if d["assigned"] is None else frozenset(d["assigned"]),
        stalls=LoopStalls(*d["stalls"]),
        positions={(str(t), int(p)): (int(first), int(last)) for t, p, first, last in d.get("positions", [])},
        offset_reset=str(d.get("offset_reset", "earliest")),
        not_imported=tuple(str(line) for line in d.get("not_imported", ())),
        crashes={str(agent): (str(note), float(at)) for agent, note, at in d.get("crashes", ())},
        declared={str(topic): int(n) for topic, n in d.get("declared", {}).items()},
    )


def encode(report: WorkerReport) -> bytes:
    """The report's bytes for the snapshot topic (never over ``MAX_REPORT_BYTES``)."""
    data = _encode(report)
    if len(data) <= MAX_REPORT_BYTES:
        return data
    return _encode(_counts_only(report))


def _encode(report: WorkerReport) -> bytes:
    doc = {
        "format": FORMAT,
        "worker": report.worker,
        "host": report.host,
        "pid": report.pid,
        "started": report.started,
        "at": report.at,
        "number": report.number,
        "final": report.final,
        "interval": report.interval,
        "control": report.control,
        "apps": [_app(app) for app in report.apps],
        "sources": [_source(src) for src in report.sources],
        "inbound": [[i.topic, i.received, i.processed] for i in report.inbound.values()],
        "consumed": list(report.consumed),
        "truncated": list(report.truncated),
        "delta": report.delta,
    }
    packer = zlib.compressobj(6, zdict=ZDICT)
    return packer.compress(json.dumps(doc, separators=(",", ":")).encode()) + packer.flush()


def _counts_only(report: WorkerReport) -> WorkerReport:
    """The report with the id sets of its biggest sources replaced by their sizes' worth of nothing:
    the worker says which ones, and the watcher shows them as not verifiable by id."""
    ranked = sorted(report.sources, key=lambda s: -(len(s.sent) + len(s.received) + len(s.acked)))
    cut: list[str] = list(report.truncated)
    sources = {src.origin: src for src in report.sources}
    for src in ranked:
        sources[src.origin] = replace(src, sent=FrozenBitMap(), acked=FrozenBitMap(), received=FrozenBitMap())
        cut.append(f"{src.name}/ids")
        trial = replace(report, sources=tuple(sources.values()), truncated=tuple(cut))
        if len(_encode(trial)) <= MAX_REPORT_BYTES:
            return trial
    return replace(report, sources=(), truncated=(*cut, "*"))


def decode(data: bytes) -> WorkerReport:
    """A report from the snapshot topic's bytes; :class:`WireError` if they are not one."""
    try:
        unpacker = zlib.decompressobj(zdict=ZDICT)
        doc = json.loads(unpacker.decompress(data) + unpacker.flush())
    except (zlib.error, ValueError, TypeError) as exc:
        raise WireError(f"not a genmon report: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        got = doc.get("format") if isinstance(doc, dict) else "?"
        raise WireError(f"report format {got} (this genmon reads {FORMAT})")
    try:
        return WorkerReport(
            worker=doc["worker"],
            host=doc["host"],
            pid=doc["pid"],
            started=doc["started"],
            at=doc["at"],
            number=doc["number"],
            final=doc["final"],
            interval=doc["interval"],
            control=doc["control"],
            apps=tuple(_app_from(a) for a in doc["apps"]),
            sources=tuple(_source_from(s) for s in doc["sources"]),
            inbound={t: InboundState(t, r, dict(p)) for t, r, p in doc["inbound"]},
            consumed=tuple(doc["consumed"]),
            truncated=tuple(doc["truncated"]),
            delta=bool(doc.get("delta", False)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise WireError(f"a malformed genmon report: {exc}") from None
