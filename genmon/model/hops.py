"""A value's losses across hops: the row of its origin names what died downstream, the hop's row
names the origins of what died there.

A hop (an agent that forwards, repartitions, yields to a sink, sends on) numbers its values in its
own row; each of its messages also carries the ``genmon-id`` of the tracked value it was made from
(``genmon-origin``, docs/ARCHITECTURE.md "A value keeps its origin"). When the probe sees a value
die at a hop (an agent raised, a payload did not decode, a send raised) it notes the origin's id in
the origin's row (``SourceState.downstream``). Here both rows learn of it: the origin's verdict says
its values were lost downstream, and where; the hop's verdict names the original ids.
"""

from __future__ import annotations

from dataclasses import replace

from genmon.model.ids import MissingIds
from genmon.model.snapshot import HopLoss, PipelineSnapshot, Verdict
from genmon.model.state import SourceState, split_downstream
from genmon.model.vocabulary import Proof, VerdictState


def downstream_of(src: SourceState) -> tuple[HopLoss, ...]:
    """What of ``src``'s values died at later hops, per (hop, cause), the biggest first."""
    losses = []
    for key, ids in src.downstream.items():
        if ids:
            hop, cause = split_downstream(key)
            losses.append(HopLoss(hop, cause, MissingIds.of(ids), src.downstream_notes.get(key, "")))
    return tuple(sorted(losses, key=lambda loss: (-loss.ids.count, loss.row)))


def with_hops(pipes: tuple[PipelineSnapshot, ...]) -> tuple[PipelineSnapshot, ...]:
    """Each row with its losses downstream in its verdict, and each hop's row with the origins of
    the values that died there (``upstream``)."""
    upstream: dict[str, list[HopLoss]] = {}
    for pipe in pipes:
        for loss in pipe.downstream:
            upstream.setdefault(loss.row, []).append(HopLoss(pipe.name, loss.cause, loss.ids, loss.note))
    return tuple(_judged(pipe, tuple(upstream.get(pipe.name, ()))) for pipe in pipes)


def _judged(pipe: PipelineSnapshot, upstream: tuple[HopLoss, ...]) -> PipelineSnapshot:
    verdict = pipe.verdict
    if upstream and verdict.cause is not None:
        origins = "; ".join(f"{up.row} {up.ids.text()}" for up in upstream if up.cause == verdict.cause)
        if origins:
            verdict = replace(verdict, text=f"{verdict.text} — from {origins}")
    if pipe.downstream:
        n = sum(loss.ids.count for loss in pipe.downstream)
        first = pipe.downstream[0]
        where = (
            f"at {first.row} ({first.note or first.cause.words})"
            if len(pipe.downstream) == 1
            else "(" + "; ".join(f"{d.row}: {d.ids.count} {d.cause.words}" for d in pipe.downstream) + ")"
        )
        if verdict.state.problem:
            verdict = replace(verdict, text=f"{verdict.text} · {n:,} more lost downstream")
        elif verdict.state != VerdictState.UNVERIFIABLE:
            verdict = Verdict(
                VerdictState.LOST,
                f"lost downstream: {n:,} {where}",
                None,
                lost=n,
                in_flight=verdict.in_flight,
                cause=first.cause,
                error=first.note or None,
                proof=Proof.SEEN,
            )
    if verdict is pipe.verdict and not upstream:
        return pipe
    return replace(pipe, verdict=verdict, upstream=upstream)
