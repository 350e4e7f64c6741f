"""A worker's report as a delta on its last checkpoint, and a delta folded back in: between
checkpoints a worker sends only the ids that are new since, and the watcher adds them to what it had
(docs/FLEET.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from genmon.model.ids import either, frozen, minus
from genmon.model.state import AckLog, Made, SourceState
from genmon.model.wire import MADE_RUNS_MAX, WorkerReport


def _grown(old: SourceState, new: SourceState) -> SourceState:
    """``new``'s fields with the ids of both (a delta folded into what came before)."""

    def either(a: Any, b: Any) -> Any:
        """``a | b``, or the one that is not empty as it is (id sets here are frozen: shared safely)."""
        return a if not b else b if not a else a | b

    def joined(a: Mapping[Any, Any], b: Mapping[Any, Any]) -> Mapping[Any, Any]:
        if not b or not a:
            return a or b  # most stages of a delta have nothing for most sources
        return {k: either(a[k], b[k]) if k in a and k in b else a.get(k, b.get(k)) for k in {*a, *b}}

    return new.evolve(
        latency_hist=new.latency_hist or old.latency_hist,
        sent=either(old.sent, new.sent),
        acked=either(old.acked, new.acked),
        received=either(old.received, new.received),
        sent_by=joined(old.sent_by, new.sent_by),
        acked_by=joined(old.acked_by, new.acked_by),
        received_by=joined(old.received_by, new.received_by),
        processed=joined(old.processed, new.processed),
        damaged=joined(old.damaged, new.damaged),
        downstream=joined(old.downstream, new.downstream),
        downstream_notes={**old.downstream_notes, **new.downstream_notes},
        acked_at=_logs_grown(old.acked_at, new.acked_at),
        made_from=_runs_grown(old.made_from, new.made_from),
    )


def _runs_grown(old: tuple[Made, ...], new: tuple[Made, ...]) -> tuple[Made, ...]:
    """A hop's runs with a delta's: its new runs, and the ones that grew (the same first id). Runs
    the worker let go of since (their values done) stay until its next checkpoint: they name the
    origin of values that are not lost, and are never read."""
    if not new or not old:
        return old or new
    grown = {run.first for run in new}
    runs = sorted((*(run for run in old if run.first not in grown), *new))
    return tuple(runs[-MADE_RUNS_MAX:])


def _runs_added(old: tuple[Made, ...], new: tuple[Made, ...]) -> tuple[Made, ...]:
    """The runs of ``new`` that ``old`` does not have as they are (new, or grown since). A hop whose
    values are read in other workers keeps thousands of short runs (values from three origins,
    interleaved): carried whole in every delta they were 98 % of a fleet's report bytes."""
    if not old:
        return new
    had = set(old)
    return tuple(run for run in new if run not in had)


def _logs_grown(old: Mapping[Any, AckLog], new: Mapping[Any, AckLog]) -> Mapping[Any, AckLog]:
    """Each partition's log with the delta's ids and offsets added (they only ever grow)."""
    if not new or not old:
        return old or new
    logs = dict(old)
    for key, more in new.items():
        base = logs.get(key)
        if base is None:
            logs[key] = more
        elif not more.ordered:
            logs[key] = AckLog(ordered=False)
        else:
            logs[key] = AckLog(frozen(either(base.ids, more.ids)), base.offsets | more.offsets, base.ordered)
    return logs


def _logs_shrunk(old: Mapping[Any, AckLog], new: Mapping[Any, AckLog]) -> dict[Any, AckLog]:
    """Per partition, the ids and the offsets landed since ``old`` (nothing for a quiet one)."""
    delta = {}
    for key, log in new.items():
        base = old.get(key)
        if base is None:
            delta[key] = log
        elif log == base:
            continue
        elif not log.ordered:
            delta[key] = AckLog(ordered=False)
        else:
            delta[key] = AckLog(frozen(minus(log.ids, base.ids)), log.offsets - base.offsets, True)
    return delta


def _shrunk(old: SourceState, new: SourceState) -> SourceState:
    """``new`` with only the ids ``old`` did not have (the delta between two reports)."""

    def minus_by(a: Mapping[Any, Any], b: Mapping[Any, Any]) -> dict[Any, Any]:
        return {k: ids - b[k] if k in b else ids for k, ids in a.items()}

    return new.evolve(
        sent=minus(new.sent, old.sent),
        acked=minus(new.acked, old.acked),
        received=minus(new.received, old.received),
        sent_by=minus_by(new.sent_by, old.sent_by),
        acked_by=minus_by(new.acked_by, old.acked_by),
        received_by=minus_by(new.received_by, old.received_by),
        processed=minus_by(new.processed, old.processed),
        damaged=minus_by(new.damaged, old.damaged),
        downstream=minus_by(new.downstream, old.downstream),
        acked_at=_logs_shrunk(old.acked_at, new.acked_at),
        made_from=_runs_added(old.made_from, new.made_from),
    )


def _by_origin(sources: tuple[SourceState, ...]) -> dict[tuple[str, bool], SourceState]:
    return {(src.origin, src.foreign): src for src in sources}


def delta_of(base: WorkerReport, current: WorkerReport, number: int, latency: bool = True) -> WorkerReport:
    """``current`` as a delta on ``base``: per source only the ids added since, and no source at all
    that has nothing new (folding keeps what the watcher has: with hundreds of sources most are
    quiet in any half second). ``latency=False``: without the latency histograms (the watcher keeps
    the last ones it got: they are the biggest part of a delta, and the screen refreshes
    percentiles every few seconds anyway)."""
    before = _by_origin(base.sources)
    sources = tuple(
        _shrunk(before[key], src) if key in before else src
        for key, src in _by_origin(current.sources).items()
        if not _same(before.get(key), src, latency)
    )
    if not latency:
        sources = tuple(src.evolve(latency_hist="") if src.latency_hist else src for src in sources)
    return replace(current, sources=sources, delta=True, number=number)


def _same(old: SourceState | None, new: SourceState, latency: bool) -> bool:
    """Nothing of ``new`` a delta would carry differs from ``old`` (its histogram counts only when
    the delta carries histograms)."""
    if old is None:
        return False
    if not latency and new.latency_hist != old.latency_hist:
        new = new.evolve(latency_hist=old.latency_hist)
    return new == old


def fold(base: WorkerReport, delta: WorkerReport) -> WorkerReport:
    """What the worker knew at ``delta``: ``base`` (a checkpoint, or folded deltas) grown by it."""
    sources = _by_origin(base.sources)
    for key, src in _by_origin(delta.sources).items():
        sources[key] = _grown(sources[key], src) if key in sources else src
    consumed = tuple(dict.fromkeys((*base.consumed, *delta.consumed)))
    return replace(delta, sources=tuple(sources.values()), consumed=consumed, delta=False)
