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
import binascii
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pyroaring import BitMap, BitMap64, FrozenBitMap, FrozenBitMap64

from genmon.model.checked import ID_MAX, flag, integer, mapping, maybe_text, number, text, texts
from genmon.model.checked import items as checked_items
from genmon.model.snapshot import LoopStalls
from genmon.model.state import (
    AckLog,
    AppReading,
    InboundState,
    Made,
    SourceState,
    downstream_key,
    split_downstream,
)
from genmon.model.vocabulary import AppState, Cause, RowKind, Stage

FORMAT = 2
"""Reports: 2 since id sets may travel as bits (a reader of 1 would refuse them)."""
BITS_SPAN_MAX = 8192
"""An id set is sent as bits only when its first and last id are at most this far apart."""
PLAIN_IDS = 64
"""Up to this many ids of a partition's landing log travel as plain lists of ints."""
MADE_RUNS_MAX = 20_000
"""The most runs a hop's ``made_from`` holds (a probe keeps at most that many values)."""
MAX_REPORT_BYTES = 900_000
INFLATE_STEP = 2**20
MAX_INFLATED = 32 * 2**20
"""The most a report may inflate to: a watcher never holds more of one record in memory (a report of
1,000 pipelines inflates to a few MB; a zlib bomb to a gigabyte)."""
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


def _bitmap(value: Any) -> FrozenBitMap:
    if isinstance(value, list):
        if len(value) != 2:
            raise ValueError("an id set's bits: [first, bits] expected")
        low, bits = integer(value[0], "first id", 0, ID_MAX), text(value[1], "bits")
        raw = base64.b64decode(bits, validate=True)
        if len(raw) * 8 > BITS_SPAN_MAX + 7:
            raise ValueError("an id set's bits out of range")
        flags = bin(int.from_bytes(raw, "little"))[:1:-1]  # bit 0 first
        if low + len(flags) - 1 > ID_MAX:
            raise ValueError("an id set's bits out of range")
        return FrozenBitMap(low + at for at, flag in enumerate(flags) if flag == "1")
    return FrozenBitMap.deserialize(base64.b64decode(text(value, "an id set"), validate=True))


def _within(ids: Any, base: Any) -> Any:
    """``ids`` as ``{"minus": base - ids}`` when it is a subset of ``base`` (acked of sent, processed
    of received: usually all of it, so the gaps are nearly empty), else as itself."""
    if base and ids and ids.issubset(base):
        return {"minus": _ids(base - ids)}
    return _ids(ids)


def _within_from(value: Any, base: FrozenBitMap) -> FrozenBitMap:
    if isinstance(value, dict):
        if set(value) != {"minus"}:
            raise ValueError('an id set: {"minus": ids} expected')
        return FrozenBitMap(base - _bitmap(value["minus"]))
    return _bitmap(value)


def _source(src: SourceState) -> dict[str, Any]:
    return {
        "name": src.name,
        "function": src.function,
        "code": src.code,
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
        "made_from": [list(run) for run in src.made_from],
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
    for entry in items:
        topic, partition, ids, offsets, ordered = checked_items(entry, "an acked_at entry")
        topic, partition = text(topic, "acked_at topic"), integer(partition, "acked_at partition")
        if isinstance(offsets, list):  # plain lists
            plain = [integer(n, "acked_at id", 0, ID_MAX) for n in checked_items(ids, "acked_at ids")]
            at = [integer(n, "acked_at offset") for n in offsets]
            log = AckLog(FrozenBitMap(plain), FrozenBitMap64(at), flag(ordered, "acked_at ordered"))
        elif isinstance(offsets, str):
            at64 = FrozenBitMap64.deserialize(base64.b64decode(offsets, validate=True))
            log = AckLog(_bitmap(ids), at64, flag(ordered, "acked_at ordered"))
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
    for topic, stages in mapping(d, "by_topic").items():
        s, a, r = checked_items(stages, "by_topic stages")
        for key, value, base in (("sent_by", s, sent), ("acked_by", a, acked), ("received_by", r, received)):
            ids = _within_from(value, base)
            if ids:
                out[key][topic] = ids
    return out


def _source_from(d: Any) -> SourceState:
    d = mapping(d, "a source")
    sent, received = _bitmap(d["sent"]), _bitmap(d["received"])
    acked = _within_from(d["acked"], sent)
    by_topic = _by_topic_from(d.get("by_topic", {}), sent, acked, received)
    seq = integer(d["seq"], "seq", 0, ID_MAX)
    processed = {}
    for entry in checked_items(d["processed"], "processed"):
        topic, agent, ids = checked_items(entry, "a processed entry")
        processed[(text(topic, "processed topic"), text(agent, "processed agent"))] = _within_from(
            ids, received
        )
    return SourceState(
        name=text(d["name"], "name"),
        function=text(d["function"], "function"),
        code=text(d.get("code", ""), "code"),
        kind=RowKind(d["kind"]),
        on=flag(d["on"], "on"),
        owner=maybe_text(d["owner"], "owner"),
        seq=seq,
        floor=integer(d["floor"], "floor", 0, seq),
        token=text(d["token"], "token"),
        foreign=flag(d["foreign"], "foreign"),
        sent=sent,
        acked=acked,
        received=received,
        processed=processed,
        sent_by=by_topic["sent_by"],
        acked_by=by_topic["acked_by"],
        received_by=by_topic["received_by"],
        damaged={Cause(cause): _bitmap(ids) for cause, ids in mapping(d["damaged"], "damaged").items()},
        notes={
            Cause(cause): text(note, "a note") for cause, note in mapping(d.get("notes", {}), "notes").items()
        },
        downstream={
            _downstream(key): _bitmap(ids)
            for key, ids in mapping(d.get("downstream", {}), "downstream").items()
        },
        downstream_notes={
            _downstream(key): text(note, "a note")
            for key, note in mapping(d.get("downstream_notes", {}), "downstream notes").items()
        },
        made_from=_made_from(d.get("made_from", []), seq),
        duplicates={
            Stage(stage): integer(n, "duplicates")
            for stage, n in mapping(d["duplicates"], "duplicates").items()
        },
        reorders=integer(d["reorders"], "reorders"),
        topics=texts(d["topics"], "topics"),
        agents=texts(d["agents"], "agents"),
        stalls=integer(d["stalls"], "stalls"),
        longest_stall=number(d["longest_stall"], "longest_stall"),
        latency_hist=text(d["latency"], "latency"),
        acked_at=_acked_at_from(checked_items(d.get("acked_at", []), "acked_at")),
    )


def _made_from(value: Any, seq: int) -> tuple[Made, ...]:
    """A hop's ``made_from`` read back, checked: its ids are ones it made, each origin a text."""
    runs = []
    entries = checked_items(value, "made_from")
    if len(entries) > MADE_RUNS_MAX:
        raise ValueError(f"made_from: more than {MADE_RUNS_MAX:,} runs")
    for entry in entries:
        first, last, origin, origin_first, since, until = checked_items(entry, "a made_from run")
        first = integer(first, "a hop's id", 1, seq)
        runs.append(
            Made(
                first,
                integer(last, "a hop's id", first, seq),
                text(origin, "an origin"),
                integer(origin_first, "an origin's id", 1, ID_MAX),
                integer(since, "a send time"),
                integer(until, "a send time"),
            )
        )
    return tuple(runs)


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
        "windows": dict(app.windows),
        "declared": dict(app.declared),
    }


def _stalls_from(value: Any) -> LoopStalls:
    count, longest, at, ongoing = checked_items(value, "stalls")
    return LoopStalls(
        integer(count, "stalls count"),
        number(longest, "longest stall"),
        maybe_text(at, "stall time"),
        number(ongoing, "ongoing stall"),
    )


def _app_from(d: Any) -> AppReading:
    d = mapping(d, "an app")
    positions = {}
    for entry in checked_items(d.get("positions", []), "positions"):
        topic, partition, first, last = checked_items(entry, "a position")
        key = (text(topic, "position topic"), integer(partition, "position partition"))
        positions[key] = (integer(first, "first offset"), integer(last, "last offset"))
    crashes = {}
    for entry in checked_items(d.get("crashes", []), "crashes"):
        agent, note, at = checked_items(entry, "a crash")
        crashes[text(agent, "crash agent")] = (text(note, "crash note"), number(at, "crash time"))
    assigned = d["assigned"]
    return AppReading(
        label=text(d["label"], "label"),
        app_id=text(d["app_id"], "app_id"),
        state=AppState(d["state"]),
        error=maybe_text(d["error"], "error"),
        readers={
            topic: texts(agents, "readers") for topic, agents in mapping(d["readers"], "readers").items()
        },
        assigned=None if assigned is None else frozenset(texts(assigned, "assigned")),
        stalls=_stalls_from(d["stalls"]),
        positions=positions,
        offset_reset=text(d.get("offset_reset", "earliest"), "offset_reset"),
        not_imported=texts(d.get("not_imported", []), "not_imported"),
        crashes=crashes,
        windows={
            text(agent, "window agent"): number(seconds, "window")
            for agent, seconds in mapping(d.get("windows", {}), "windows").items()
        },
        declared={
            topic: integer(n, "declared partitions")
            for topic, n in mapping(d.get("declared", {}), "declared").items()
        },
    )


def encode(report: WorkerReport) -> bytes:
    """The report's bytes for the snapshot topic (never over ``MAX_REPORT_BYTES``)."""
    data = _encode(report)
    if len(data) <= MAX_REPORT_BYTES:
        return data
    return _encode(_counts_only(report))


def _encode(report: WorkerReport) -> bytes:
    packer = zlib.compressobj(6, zdict=ZDICT)
    return packer.compress(document(report)) + packer.flush()


def document(report: WorkerReport) -> bytes:
    """The report's JSON, uncompressed (a recording compresses many of them together)."""
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
    return json.dumps(doc, separators=(",", ":")).encode()


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


def _inflated(data: bytes) -> bytes:
    """``data`` inflated a megabyte at a time, refused once past ``MAX_INFLATED``: memory follows
    what the record really holds, never what it claims."""
    unpacker = zlib.decompressobj(zdict=ZDICT)
    parts, size, pending = [], 0, data
    while True:
        part = unpacker.decompress(pending, INFLATE_STEP)
        parts.append(part)
        size += len(part)
        if size > MAX_INFLATED:
            raise WireError(f"not a genmon report: too big (inflates past {MAX_INFLATED} bytes)")
        pending = unpacker.unconsumed_tail
        if not pending and (unpacker.eof or not part):
            break
    parts.append(unpacker.flush())
    return b"".join(parts)


def decode(data: bytes) -> WorkerReport:
    """A report from the snapshot topic's bytes; :class:`WireError` if they are not one — whatever
    the bytes are (docs/FLEET.md, "Hostile records"): inflated up to ``MAX_INFLATED`` only, every
    field checked for the type and range the merge relies on."""
    try:
        if not isinstance(data, bytes | bytearray):
            raise TypeError("no bytes")
        raw = _inflated(bytes(data))
    except (zlib.error, ValueError, TypeError, RecursionError) as exc:
        raise WireError(f"not a genmon report: {exc}") from None
    return from_document(raw)


def from_document(raw: bytes) -> WorkerReport:
    """A report from its JSON (see :func:`document`), every field checked as :func:`decode` does."""
    try:
        doc = json.loads(raw)
    except (ValueError, TypeError, RecursionError) as exc:
        raise WireError(f"not a genmon report: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        got = doc.get("format") if isinstance(doc, dict) else "?"
        raise WireError(f"report format {got} (this genmon reads {FORMAT})")
    try:
        inbound = {}
        for entry in checked_items(doc["inbound"], "inbound"):
            topic, received, processed = checked_items(entry, "an inbound entry")
            by_agent = {
                agent: integer(n, "inbound processed") for agent, n in mapping(processed, "inbound").items()
            }
            inbound[text(topic, "inbound topic")] = InboundState(
                topic, integer(received, "inbound received"), by_agent
            )
        return WorkerReport(
            worker=text(doc["worker"], "worker"),
            host=text(doc["host"], "host"),
            pid=integer(doc["pid"], "pid"),
            started=number(doc["started"], "started"),
            at=number(doc["at"], "at"),
            number=integer(doc["number"], "number"),
            final=flag(doc["final"], "final"),
            interval=number(doc["interval"], "interval", 0.0, 3600.0),
            control=integer(doc["control"], "control"),
            apps=tuple(_app_from(a) for a in checked_items(doc["apps"], "apps")),
            sources=tuple(_source_from(s) for s in checked_items(doc["sources"], "sources")),
            inbound=inbound,
            consumed=texts(doc["consumed"], "consumed"),
            truncated=texts(doc["truncated"], "truncated"),
            delta=flag(doc.get("delta", False), "delta"),
        )
    except (KeyError, TypeError, ValueError, OverflowError, RecursionError, binascii.Error) as exc:
        raise WireError(f"a malformed genmon report: {exc}") from None
