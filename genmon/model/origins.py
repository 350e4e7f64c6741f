"""One origin's id sets merged across the workers that reported them (see :mod:`genmon.model.merge`).

A value's sending stages come from its origin's own report, its receiving stages are the union of
every worker's sets; a later stage implies the earlier ones; a reset is a floor per origin. Origins of
one generator name in several workers are lifted side by side (``worker << 32 | seq``).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from pyroaring import BitMap, FrozenBitMap, FrozenBitMap64

from genmon.model.ids import Ids, finished_by_all, id_range, union_all
from genmon.model.latency import JOIN
from genmon.model.state import AckLog, SourceState
from genmon.model.vocabulary import Cause, Stage

if TYPE_CHECKING:
    from genmon.model.merge import Heard


def _above(ids: Ids, floor: int) -> Ids:
    if not floor or not ids or ids.min() > floor:
        return ids
    copy = BitMap(ids)
    copy.remove_range(0, floor + 1)
    return FrozenBitMap(copy)


def _union(sets: list[Ids]) -> tuple[FrozenBitMap, int]:
    """The union, and how many sightings it folded (the same id in two workers' sets)."""
    if not sets:
        return FrozenBitMap(), 0
    if len(sets) == 1:
        return FrozenBitMap(sets[0]), 0
    union = union_all(sets)
    return FrozenBitMap(union), sum(len(s) for s in sets) - len(union)


def _by_topic(src: SourceState, stage: str) -> Mapping[str, Ids]:
    """One stage's ids per topic: as reported (fan-out, or a receiver in another process), or the
    whole set under the one topic a single-topic sender sent to."""
    by = getattr(src, f"{stage}_by")
    if by:
        return by
    ids = getattr(src, stage)
    return {src.topics[0]: ids} if len(src.topics) == 1 and ids else {}


def merge_origin(
    sender: SourceState,
    parts: list[tuple[Heard, SourceState]],
    floor: int,
    shares: dict[str, dict[Stage, int]],
    owner: str | None = None,
) -> SourceState:
    received, folded_r = _union([_above(s.received, floor) for _, s in parts])
    received_by: dict[str, FrozenBitMap] = {}
    if any(s.sent_by or s.received_by for _, s in parts):  # fan-out, or receivers elsewhere: per topic
        folded_r = 0
        for topic in {t for _, s in parts for t in _by_topic(s, "received")}:
            sets = [_above(by[topic], floor) for _, s in parts if topic in (by := _by_topic(s, "received"))]
            received_by[topic], folded = _union(sets)
            folded_r += folded  # the same value on the same topic in two workers: a redelivery
    keys = {key for _, s in parts for key in s.processed}
    processed: dict[tuple[str, str], FrozenBitMap] = {}
    folded_p = 0
    for key in keys:
        ids, folded = _union([_above(s.processed[key], floor) for _, s in parts if key in s.processed])
        processed[key], folded_p = ids, folded_p + folded
    damaged: dict[Cause, FrozenBitMap] = {}
    for cause in {c for _, s in parts for c in s.damaged}:
        damaged[cause], _ = _union([_above(s.damaged[cause], floor) for _, s in parts if cause in s.damaged])
    damaged = {cause: ids for cause, ids in damaged.items() if ids}
    downstream: dict[str, FrozenBitMap] = {}
    for hop_cause in {k for _, s in parts for k in s.downstream}:
        downstream[hop_cause], _ = _union(
            [_above(s.downstream[hop_cause], floor) for _, s in parts if hop_cause in s.downstream]
        )
    downstream = {hop_cause: ids for hop_cause, ids in downstream.items() if ids}
    # A later stage implies the earlier ones: reports are taken at different moments.
    done = finished_by_all((topic, ids) for (topic, _), ids in processed.items())
    every_processed = BitMap.union(*processed.values()) if processed else BitMap()
    received = FrozenBitMap(BitMap(received) | every_processed)
    acked = FrozenBitMap(BitMap(_above(sender.acked, floor)) | received)
    sent = FrozenBitMap(BitMap(_above(sender.sent, floor)) | acked)
    seq = max(sender.seq, sent.max() if sent else 0)
    sent_by = {t: _above(ids, floor) for t, ids in _by_topic(sender, "sent").items()}
    acked_by = {t: _above(ids, floor) for t, ids in _by_topic(sender, "acked").items()}
    fanout = len({*sent_by, *received_by}) > 1  # several topics: stages per (value, topic)
    for h, s in parts:
        share = shares.setdefault(h.report.worker, {})
        if not s.foreign:
            share[Stage.SENT] = share.get(Stage.SENT, 0) + len(sent)
        share[Stage.RECEIVED] = share.get(Stage.RECEIVED, 0) + len(_above(s.received, floor))
        if done is not None:
            mine = [_above(ids, floor) for ids in s.processed.values()]
            share[Stage.PROCESSED] = share.get(Stage.PROCESSED, 0) + (len(union_all(mine)) if mine else 0)
    duplicates = dict(sender.duplicates)
    duplicates[Stage.RECEIVED] = sum(s.duplicates.get(Stage.RECEIVED, 0) for _, s in parts) + folded_r
    duplicates[Stage.PROCESSED] = sum(s.duplicates.get(Stage.PROCESSED, 0) for _, s in parts) + folded_p
    return sender.evolve(
        seq=seq,
        floor=floor,
        sent=sent,
        acked=acked,
        received=received,
        sent_by=sent_by if fanout else {},
        acked_by=acked_by if fanout else {},
        received_by=received_by if fanout else {},
        processed=processed,
        damaged=damaged,
        notes={cause: text for _, s in parts for cause, text in s.notes.items() if cause in damaged},
        downstream=downstream,
        downstream_notes={
            k: text for _, s in parts for k, text in s.downstream_notes.items() if k in downstream
        },
        made_from=tuple(run for run in sender.made_from if run.first > floor),
        duplicates=duplicates,
        reorders=sum(s.reorders for _, s in parts),
        agents=tuple(dict.fromkeys(a for _, s in parts for a in s.agents)),
        latency_hist=JOIN.join(s.latency_hist for _, s in parts if s.latency_hist),
        foreign=False,
        owner=owner,
    )


def _lift(ids: Ids, number: int) -> FrozenBitMap64:
    """The 32-bit ``ids`` as 64-bit ids ``number << 32 | id`` (roaring64's portable format is a list
    of 32-bit bitmaps keyed by their high 32 bits: one bucket here, no id is touched)."""
    return FrozenBitMap64.deserialize(struct.pack("<QI", 1, number) + BitMap(ids).serialize())


def lift_all(name: str, parts: list[tuple[int, SourceState, Heard]]) -> SourceState:
    """One row for the same generator in several workers: their ids side by side, never colliding."""

    def union(pick: object) -> FrozenBitMap64:
        sets = [_lift(pick(src), number) for number, src, _ in parts]  # type: ignore[operator]
        out = sets[0]
        for more in sets[1:]:
            out = out | more
        return out

    def by_topic(field: str) -> dict[str, FrozenBitMap64]:
        topics = {t for _, src, _ in parts for t in getattr(src, field)}
        return {t: union(lambda s, t=t: getattr(s, field).get(t, FrozenBitMap())) for t in topics}

    first = parts[0][1]
    keys = {key for _, src, _ in parts for key in src.processed}
    causes = {cause for _, src, _ in parts for cause in src.damaged}
    return replace(
        first,
        seq=sum(src.seq for _, src, _ in parts),
        floor=sum(src.floor for _, src, _ in parts),
        expected=union(lambda s: id_range(s.floor + 1, s.seq)),
        sent=union(lambda s: s.sent),
        acked=union(lambda s: s.acked),
        received=union(lambda s: s.received),
        sent_by=by_topic("sent_by"),
        acked_by=by_topic("acked_by"),
        received_by=by_topic("received_by"),
        processed={key: union(lambda s, k=key: s.processed.get(k, FrozenBitMap())) for key in keys},
        damaged={cause: union(lambda s, c=cause: s.damaged.get(c, FrozenBitMap())) for cause in causes},
        notes={cause: text for _, src, _ in parts for cause, text in src.notes.items()},
        downstream={
            key: union(lambda s, k=key: s.downstream.get(k, FrozenBitMap()))
            for key in {k for _, src, _ in parts for k in src.downstream}
        },
        downstream_notes={k: text for _, src, _ in parts for k, text in src.downstream_notes.items()},
        made_from=(),  # its ids are lifted, a header's are not: a silent loss here keeps the hop's ids
        acked_at={},
        lifted_at=tuple(
            (topic, partition, AckLog(_lift(log.ids, number), log.offsets, log.ordered))
            for number, src, _ in parts
            for (topic, partition), log in src.acked_at.items()
        ),
        duplicates={
            stage: sum(src.duplicates.get(stage, 0) for _, src, _ in parts)
            for stage in {st for _, src, _ in parts for st in src.duplicates}
        },
        reorders=sum(src.reorders for _, src, _ in parts),
        topics=tuple(dict.fromkeys(t for _, src, _ in parts for t in src.topics)),
        agents=tuple(dict.fromkeys(a for _, src, _ in parts for a in src.agents)),
        stalls=sum(src.stalls for _, src, _ in parts),
        longest_stall=max(src.longest_stall for _, src, _ in parts),
        latency_hist=JOIN.join(src.latency_hist for _, src, _ in parts if src.latency_hist),
        on=all(src.on for _, src, _ in parts),
        token="",
    )
