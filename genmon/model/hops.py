"""A value's losses across hops: the row of its origin names what died downstream, the hop's row
names the origins of what died there.

A hop (an agent that forwards, repartitions, yields to a sink, sends on) numbers its values in its
own row; each of its messages also carries the ``genmon-id`` of the tracked value it was made from
(``genmon-origin``, docs/ARCHITECTURE.md "A value keeps its origin"). When the probe sees a value
die at a hop (an agent raised, a payload did not decode, a send raised) it notes the origin's id in
the origin's row (``SourceState.downstream``). A loss nobody saw happen (a hop's values that never
reached a stage: acked, received) is named from the hop's side instead: the hop's row keeps, for its
values not yet done, the origin each was made from (``SourceState.made_from``), and
:func:`lost_from` turns its lost ids into the origins' (``came_from``). Here both rows learn of it:
the origin's verdict says its values were lost downstream, and where; the hop's verdict names the
original ids.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import cast

from pyroaring import BitMap

from genmon.model.ids import Ids, MissingIds, both
from genmon.model.snapshot import HopLoss, PipelineSnapshot, Verdict
from genmon.model.state import SourceState, split_downstream
from genmon.model.vocabulary import Cause, Proof, VerdictState
from genmon.model.wire import WorkerReport

SEEN_AT_THE_HOP = (Cause.CRASHED, Cause.DECODE_FAILED, Cause.SEND_RAISED)
"""Losses the probe names on the origin's row itself when it sees them (the record, or the running
agent's event, carries the origin): not translated again from the hop's side."""


FROM = " — from "
"""What a hop's verdict says before the original ids of what died there (``… — from orders 9, 18``)."""


def origins_text(upstream: tuple[HopLoss, ...], cause: Cause | None) -> str:
    """`` — from clicks 7, 14``: the original ids of what died at a hop by ``cause`` (None: silently)."""
    origins = "; ".join(f"{up.row} {up.ids.text()}" for up in upstream if up.cause == cause)
    return f"{FROM}{origins}" if origins else ""


def one_value(text: str) -> str:
    """A row's verdict said of one value or a few of them, without its own count: ``lost at
    received: 2 (probably a wrong topic name …)`` -> ``lost at received: probably a wrong topic name …``."""
    text = text.split(FROM)[0]
    return re.sub(
        r"^(\w+ at \w+): [\d,]+(?: \((.*)\))?$", lambda m: ": ".join(filter(None, m.groups())), text
    )


def origin_rows(sources: tuple[SourceState, ...]) -> dict[str, str]:
    """``name@token`` (what a ``genmon-id`` header starts with) -> the row it is counted in. A row
    merged from several workers (ids lifted side by side) is left out: its ids are not a header's."""
    return {src.origin: src.name for src in sources if src.expected is None and not src.foreign}


def lost_from(
    src: SourceState, verdict: Verdict, lost: Ids | None, rows: Mapping[str, str]
) -> tuple[HopLoss, ...]:
    """A hop's silent loss (``verdict``, the ids ``lost`` at its stage) in its origins' ids: one
    entry per origin row, biggest first. Nothing when the row is not a hop, the loss is one the
    probe already named on the origin (``SEEN_AT_THE_HOP``), or no origin of these ids is known."""
    if not src.made_from or not lost or verdict.stage is None:
        return ()
    if verdict.state not in (VerdictState.LOST, VerdictState.STUCK) or verdict.cause in SEEN_AT_THE_HOP:
        return ()
    by_row: dict[str, BitMap] = {}
    for run in src.made_from:
        row = rows.get(run.origin)
        if row is None:
            continue
        span = BitMap()
        span.add_range(run.first, run.last + 1)
        hit = both(span, lost)  # the lost ids in this run (a range and a set: in C)
        if hit:
            by_row.setdefault(row, BitMap()).update(run.origins(hit))
    note = one_value(verdict.text)
    losses = [
        HopLoss(
            row,
            verdict.cause,
            MissingIds.of(ids),
            note,
            verdict.stage,
            verdict.state,
            verdict.proof or Proof.SEEN,
        )
        for row, ids in by_row.items()
    ]
    return tuple(sorted(losses, key=lambda loss: (-loss.ids.count, loss.row)))


def downstream_of(src: SourceState) -> tuple[HopLoss, ...]:
    """What of ``src``'s values died at later hops, per (hop, cause), the biggest first."""
    losses = []
    for key, ids in src.downstream.items():
        if ids:
            hop, cause = split_downstream(key)
            losses.append(HopLoss(hop, cause, MissingIds.of(ids), src.downstream_notes.get(key, "")))
    return _biggest_first(tuple(losses))


def with_hops(pipes: tuple[PipelineSnapshot, ...]) -> tuple[PipelineSnapshot, ...]:
    """Each row with its losses downstream in its verdict, and each hop's row with the origins of
    the values that died there (``upstream``)."""
    upstream: dict[str, list[HopLoss]] = {}
    downstream: dict[str, list[HopLoss]] = {}
    for pipe in pipes:
        for loss in pipe.downstream:
            upstream.setdefault(loss.row, []).append(replace(loss, row=pipe.name))
        for loss in pipe.came_from:  # a silent loss at this hop, in its origins' ids
            upstream.setdefault(pipe.name, []).append(loss)
            downstream.setdefault(loss.row, []).append(replace(loss, row=pipe.name))
    return tuple(
        _judged(
            replace(pipe, downstream=_biggest_first(pipe.downstream + tuple(downstream[pipe.name])))
            if pipe.name in downstream
            else pipe,
            tuple(upstream.get(pipe.name, ())),
        )
        for pipe in pipes
    )


def _biggest_first(losses: tuple[HopLoss, ...]) -> tuple[HopLoss, ...]:
    return tuple(sorted(losses, key=lambda loss: (-loss.ids.count, loss.row)))


def _judged(pipe: PipelineSnapshot, upstream: tuple[HopLoss, ...]) -> PipelineSnapshot:
    verdict = pipe.verdict
    if upstream and verdict.state.problem:
        origins = origins_text(upstream, verdict.cause)
        if origins:
            verdict = replace(verdict, text=verdict.text + origins)
    if pipe.downstream:
        n = sum(loss.ids.count for loss in pipe.downstream)
        first = pipe.downstream[0]
        where = (
            f"at {first.row} ({first.why})"
            if len(pipe.downstream) == 1
            else "("
            + "; ".join(
                f"{d.row}: {d.ids.count} {d.cause.words if d.cause else d.why}" for d in pipe.downstream
            )
            + ")"
        )
        stuck = all(d.state == VerdictState.STUCK for d in pipe.downstream)
        state = VerdictState.STUCK if stuck else VerdictState.LOST
        if verdict.state.problem:
            verdict = replace(verdict, text=f"{verdict.text} · {n:,} more {state} downstream")
        elif verdict.state != VerdictState.UNVERIFIABLE:
            verdict = Verdict(
                state,
                f"{state} downstream: {n:,} {where}",
                None,
                lost=0 if stuck else n,
                in_flight=n if stuck else verdict.in_flight,
                cause=first.cause,
                error=first.note or None,
                proof=first.proof,
            )
    if verdict is pipe.verdict and not upstream:
        return pipe
    return replace(pipe, verdict=verdict, upstream=upstream)


def settled(reports: Mapping[str, WorkerReport]) -> dict[str, WorkerReport]:
    """``reports`` with each hop's runs of values the fleet has processed let go of (the reports
    that change; the others are not in it).

    A worker lets go of the values its own agents finish; values read in another worker stay in its
    runs until its limit (``MADE_FROM_LIMIT``), since no worker sees another's reads. The watcher
    sees them all: a run whose every value some worker processed names the origin of nothing that
    can be lost. Without this, every worker run the watcher ever heard of kept thousands of runs —
    after 11 minutes of chaos at 150 values/s, 145,000 runs and 40 MB of a watcher's 96."""
    done: dict[str, dict[tuple[str, str], BitMap]] = {}
    for report in reports.values():
        for src in report.sources:
            by_reader = done.setdefault(src.origin, {})
            for key, ids in src.processed.items():  # a worker's own ids: 32-bit
                if key in by_reader:
                    by_reader[key] |= cast(BitMap, ids)
                else:
                    by_reader[key] = BitMap(ids)
    finished = {
        origin: BitMap.intersection(*by_reader.values())
        if len(by_reader) > 1
        else next(iter(by_reader.values()))
        for origin, by_reader in done.items()
        if by_reader
    }
    changed = {}
    for worker, report in reports.items():
        sources = []
        for src in report.sources:
            processed = finished.get(src.origin)
            if src.made_from and processed:
                kept = tuple(
                    run for run in src.made_from if not processed.contains_range(run.first, run.last + 1)
                )
                if len(kept) < len(src.made_from):
                    src = src.evolve(made_from=kept)
            sources.append(src)
        if any(new is not old for new, old in zip(sources, report.sources, strict=True)):
            changed[worker] = replace(report, sources=tuple(sources))
    return changed
