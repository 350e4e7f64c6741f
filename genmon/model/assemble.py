"""Snapshot assembly: the pure middle of the data path, from what the probes know to what the user sees.

``build(reading, clocks)`` turns a :class:`~genmon.model.state.Reading` (sets of ids per stage, app
states, broker truth) into a :class:`~genmon.model.snapshot.Snapshot` (counts, missing ids, verdicts,
rows in flow order) and the next :class:`~genmon.model.settle.Clocks`. It reads no clock and touches
no shared state: the screen, the headless report, ``genmon check`` and tests all get their snapshots
from this one function, fed explicitly with the time of the reading.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from pyroaring import FrozenBitMap

from genmon.model.ids import MissingIds, finished_by_all, id_range
from genmon.model.settle import FINAL_QUIET_SECONDS, Clocks
from genmon.model.snapshot import (
    AppStatus,
    Counts,
    LoopStalls,
    PipelineSnapshot,
    Snapshot,
    Verdict,
)
from genmon.model.state import AppReading, Reading, SourceState
from genmon.model.vocabulary import AppState, RowKind, Stage, VerdictState


def build(reading: Reading, clocks: Clocks, final: bool = False) -> tuple[Snapshot, Clocks]:
    """The snapshot of ``reading`` and the clocks advanced to ``reading.now``.

    ``final``: the run has settled, so a shortfall in a pipeline that stopped moving is a loss.
    """
    apps = {app.label: app for app in reading.apps}
    order = {app.label: index for index, app in enumerate(reading.apps)}
    sources = sorted(
        enumerate(reading.sources), key=lambda item: (order.get(item[1].owner or "", len(order)), item[0])
    )
    measured = [(src, *_measure(src)) for _, src in sources]
    clocks = clocks.observe({src.name: counts for src, counts, _ in measured}, reading.now)
    first = reading.apps[0] if reading.apps else None
    pipes = tuple(
        _pipeline(src, counts, done, apps.get(src.owner or "", first), reading, clocks, final)
        for src, counts, done in measured
    )
    pipes = flow_order(pipes)
    if reading.listening_rows:
        pipes += _listening(pipes, reading)
    owners = {src.name: src.owner or first_label(reading) for src in reading.sources}
    statuses = tuple(
        AppStatus(
            app_id=app.app_id,
            state=app.state,
            error=app.error,
            pipelines=tuple(name for name, owner in owners.items() if owner == app.label),
            consumed=tuple(app.readers),
            stalls=app.stalls,
            unassigned=tuple(t for t in app.readers if app.assigned is not None and t not in app.assigned)
            if app.state == AppState.RUNNING
            else (),
        )
        for app in reading.apps
    )
    head = statuses[0] if statuses else AppStatus("?", AppState.STOPPED)
    snapshot = Snapshot(
        app_id=head.app_id,
        broker=reading.broker,
        app_state=head.state,
        pipelines=pipes,
        error=head.error,
        log_path=reading.log_path,
        settle_seconds=reading.settle_seconds,
        uptime=reading.uptime,
        stalls=combined(app.stalls for app in statuses),
        apps=statuses,
        workers=reading.workers,
    )
    return snapshot, clocks


def first_label(reading: Reading) -> str:
    """Sources no run claimed belong to the first app (an app imported before any run started)."""
    return reading.apps[0].label if reading.apps else ""


def _measure(src: SourceState) -> tuple[Counts, FrozenBitMap | None]:
    done = finished_by_all((topic, ids) for (topic, _agent), ids in src.processed.items())
    counts = Counts(src.yielded, len(src.sent), len(src.acked), len(src.received), len(done) if done else 0)
    return counts, done


def _missing(src: SourceState, done: FrozenBitMap | None) -> dict[Stage, MissingIds]:
    """Which ids reached each stage's predecessor but not the stage: the *which* behind a count."""
    expected = src.expected if src.expected is not None else id_range(src.floor + 1, src.seq)
    pairs = {
        Stage.SENT: expected - src.sent,
        Stage.ACKED: src.sent - src.acked,
        Stage.RECEIVED: src.acked - src.received,
        Stage.PROCESSED: src.received - done if done is not None else src.received,
    }
    return {stage: MissingIds.of(ids) for stage, ids in pairs.items() if ids}


def _pipeline(
    src: SourceState,
    counts: Counts,
    done: FrozenBitMap | None,
    app: AppReading | None,
    reading: Reading,
    clocks: Clocks,
    final: bool,
) -> PipelineSnapshot:
    now = reading.now
    # A pipeline still moving when the run is declared settled (a timer genmon cannot pause)
    # is judged as running: its shortfall is in flight, not lost.
    final = final and clocks.quiet_for(src.name, now) >= FINAL_QUIET_SECONDS
    damaged = {cause: MissingIds.of(ids) for cause, ids in src.damaged.items() if ids}
    if app is not None and app.state == AppState.CRASHED:
        error = app.error or "the Faust app crashed"
        verdict = Verdict(VerdictState.CRASHED, f"app crashed: {error}", error=error)
    else:
        seen = {cause.stage: (ids.count, cause) for cause, ids in damaged.items()}
        verdict = clocks.verdict(src.name, counts, src.on, now, final, seen)
        if verdict.state == VerdictState.LOST and verdict.cause is None and app is not None and app.gone:
            # A worker died between reports: what it did last is unknown, so this is not proof of loss.
            worker = app.gone[0].split(" ", 1)[0]
            verdict = Verdict(
                VerdictState.UNVERIFIABLE,
                f"unverifiable: {verdict.lost} at {verdict.stage} ({worker} gone)",
                verdict.stage,
                in_flight=verdict.lost,
                error=app.gone[0],
            )
        elif src.switching and verdict.state != VerdictState.LOST:
            verdict = replace(verdict, text=src.switching)
    processed_by: dict[str, int] = {}
    for (_topic, agent), ids in src.processed.items():
        processed_by[agent] = processed_by.get(agent, 0) + len(ids)
    return PipelineSnapshot(
        name=src.name,
        generator=src.function,
        kind=src.kind,
        on=src.on,
        counts=counts,
        verdict=verdict,
        app_id=app.app_id if app else "",
        topics=src.topics,
        agents=src.agents,
        processed_by=processed_by,
        duplicates=dict(src.duplicates),
        reorders=src.reorders,
        stalls=src.stalls,
        longest_stall=src.longest_stall,
        loop_stalls=app.stalls.count if app else 0,
        missing=_missing(src, done),
        damaged=damaged,
        latency_ms=dict(src.latency_ms),
        offsets=tuple(reading.offsets[topic] for topic in src.topics if topic in reading.offsets),
    )


def _listening(pipes: tuple[PipelineSnapshot, ...], reading: Reading) -> tuple[PipelineSnapshot, ...]:
    """A row per topic an agent reads that no followed source sends to: what it receives
    comes from code genmon does not see (another service), or nothing does."""
    sent_to = {topic for pipe in pipes for topic in pipe.topics}
    rows = []
    for app in reading.apps:
        for topic, agents in app.readers.items():
            if topic in sent_to:
                continue
            inbound = reading.inbound.get(topic)
            received = inbound.received if inbound else 0
            processed = min(inbound.processed.values()) if inbound and inbound.processed else 0
            text = f"{received} from untracked senders" if received else "nothing sends here"
            rows.append(
                PipelineSnapshot(
                    name=topic,
                    generator="",
                    kind=RowKind.TOPIC,
                    on=False,
                    counts=Counts(0, 0, 0, received, processed),
                    verdict=Verdict(VerdictState.IDLE, text),
                    app_id=app.app_id,
                    topics=(topic,),
                    agents=agents,
                    processed_by=dict(inbound.processed) if inbound else {},
                )
            )
    return tuple(rows)


def flow_order(pipes: tuple[PipelineSnapshot, ...]) -> tuple[PipelineSnapshot, ...]:
    """Rows so that a multi-hop flow reads top to bottom: a row whose sender is an agent comes
    after the rows that feed that agent (generators and tasks first, then each hop)."""
    feeds: dict[str, set[str]] = {}  # agent -> rows delivering to it
    for pipe in pipes:
        for agent in pipe.agents:
            feeds.setdefault(agent, set()).add(pipe.name)
    depth: dict[str, int] = {}
    by_name = {pipe.name: pipe for pipe in pipes}

    def depth_of(pipe: PipelineSnapshot, seen: frozenset[str] = frozenset()) -> int:
        if pipe.name in depth:
            return depth[pipe.name]
        agent = pipe.name[:-2] if pipe.kind == RowKind.SENDER and pipe.name.endswith("()") else None
        fed_by = feeds.get(agent, ()) if agent else ()
        upstream = [by_name[name] for name in fed_by if name in by_name and name not in seen]
        value = 1 + max((depth_of(p, seen | {pipe.name}) for p in upstream), default=-1)
        depth[pipe.name] = value
        return value

    order = {pipe.name: index for index, pipe in enumerate(pipes)}
    return tuple(sorted(pipes, key=lambda p: (depth_of(p), order[p.name])))


def combined(all_stalls: Iterable[LoopStalls]) -> LoopStalls:
    """The stalls of several loops as one: total count, the longest, the longest ongoing."""
    count, longest, at, ongoing = 0, 0.0, None, 0.0
    for s in all_stalls:
        count += s.count
        ongoing = max(ongoing, s.ongoing)
        if s.longest > longest:
            longest, at = s.longest, s.longest_at
    return LoopStalls(count, longest, at, ongoing)
