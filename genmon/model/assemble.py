"""Snapshot assembly: the pure middle of the data path, from what the probes know to what the user sees.

``build(reading, clocks)`` turns a :class:`~genmon.model.state.Reading` (sets of ids per stage, app
states, broker truth) into a :class:`~genmon.model.snapshot.Snapshot` (counts, missing ids, verdicts,
rows in flow order) and the next :class:`~genmon.model.settle.Clocks`. It reads no clock and touches
no shared state: the screen, the headless report, ``genmon check`` and tests all get their snapshots
from this one function, fed explicitly with the time of the reading.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from pyroaring import FrozenBitMap

from genmon.model.hops import downstream_of, lost_from, origin_rows, with_hops
from genmon.model.ids import (
    ORIGIN_SHIFT,
    Ids,
    MissingIds,
    both,
    either,
    finished_by_all,
    id_range,
    minus,
    union_all,
    within,
)
from genmon.model.positions import Passed, passed, proven_notes, readers_of
from genmon.model.rows import combined, flow_order, listening_rows
from genmon.model.settle import Clocks, shortfalls_text
from genmon.model.silent import broker_outage, mismatch, shared_group, stuck
from genmon.model.snapshot import (
    AppStatus,
    Counts,
    PipelineSnapshot,
    Snapshot,
    Verdict,
)
from genmon.model.state import AppReading, Reading, SourceState
from genmon.model.topics import (
    REPLY_SUBSCRIBE_SECONDS,
    agent_topics,
    nearly_same,
    read_topics,
    replies_only,
    sinks_of,
)
from genmon.model.vocabulary import (
    REPLIES_WAIT,
    STAGES,
    AppState,
    Cause,
    Stage,
    VerdictState,
    WorkerState,
)


def build(reading: Reading, clocks: Clocks) -> tuple[Snapshot, Clocks]:
    """The snapshot of ``reading`` and the clocks advanced to ``reading.now``.

    One settle rule for every reader (the screen, ``--headless``, ``check``): a shortfall is lost
    once the later stage has neither moved nor caught up for the settle timeout (see
    :mod:`genmon.model.settle`); the end of a run changes nothing about it.
    """
    apps = {app.label: app for app in reading.apps}
    order = {app.label: index for index, app in enumerate(reading.apps)}
    sources = sorted(
        enumerate(reading.sources), key=lambda item: (order.get(item[1].owner or "", len(order)), item[0])
    )
    read = read_topics(reading)
    measured = [(src, _stages(src, read)) for _, src in sources]
    readers = readers_of(reading)
    passes = {src.name: found for src, _ in measured if (found := passed(src, reading, readers))}
    clocks = clocks.observe(
        {src.name: stages.counts(src) for src, stages in measured},
        reading.now,
        {name: union_all([p.ids for p in found.values()]) for name, found in passes.items()},
    )
    first = reading.apps[0] if reading.apps else None
    rows = origin_rows(reading.sources)
    pipes = tuple(
        _pipeline(
            _with_proven(src, passes.get(src.name), clocks.proven(src.name, reading.now)),
            stages,
            apps.get(src.owner or "", first),
            reading,
            clocks,
            read,
            rows,
        )
        for src, stages in measured
    )
    pipes = flow_order(with_hops(pipes))
    if reading.listening_rows:
        pipes += listening_rows(pipes, reading)
    owners = {src.name: src.owner or first_label(reading) for src in reading.sources}
    statuses = tuple(
        AppStatus(
            app_id=app.app_id,
            state=app.state,
            error=app.error,
            pipelines=tuple(name for name, owner in owners.items() if owner == app.label),
            consumed=tuple(agent_topics(app)),
            stalls=app.stalls,
            not_imported=app.not_imported,
            readers=dict(app.readers),
            unreporting=max(reading.group_members.get(app.app_id, 0) - app.members, 0),
            mismatched=tuple(
                f"{topic}: {text}"
                for topic in app.declared
                if (text := mismatch(topic, app, reading)) is not None
            ),
            unassigned=tuple(
                t for t in agent_topics(app) if app.assigned is not None and t not in app.assigned
            )
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
        rejected_reports=reading.rejected,
        unverified_reports=dict(reading.unverified),
        switches_refused=reading.switches_refused,
    )
    return snapshot, clocks


def first_label(reading: Reading) -> str:
    """Sources no run claimed belong to the first app (an app imported before any run started)."""
    return reading.apps[0].label if reading.apps else ""


@dataclass(frozen=True)
class _Stages:
    """The ids that reached each stage (on every topic they were sent to)."""

    sent: Ids
    acked: Ids
    received: Ids
    done: Ids | None
    """Finished by every agent reading each of their topics; None while nothing finished."""

    def counts(self, src: SourceState) -> Counts:
        done = len(self.done) if self.done else 0
        return Counts(src.yielded, len(self.sent), len(self.acked), len(self.received), done)


def _stages(src: SourceState, read: set[str] | None) -> _Stages:
    """Stages per (value, topic): with one topic the sets as they are; with several (fan-out) a
    value reached a stage once it reached it on every topic it was sent to — received and
    processed counting only topics an agent reads (the others are sinks)."""
    if not src.sent_by and not src.received_by:
        done = finished_by_all((topic, ids) for (topic, _agent), ids in src.processed.items())
        return _Stages(src.sent, src.acked, src.received, done)
    per_topic = {topic: ids for (topic, _agent), ids in src.processed.items()}
    topics = {*src.sent_by, *src.received_by, *per_topic}
    needed = [
        t
        for t in topics
        if read is None or t in read or t in src.received_by or any(nearly_same(t, r) for r in read)
    ]
    nothing = FrozenBitMap()

    def short(have: Mapping[str, Ids], of: Mapping[str, Ids], among: Iterable[str]) -> Ids:
        gaps = [minus(of[t], have.get(t, nothing)) for t in among if t in of]
        return _union(gaps) if gaps else nothing

    acked = minus(src.acked, short(src.acked_by, src.sent_by, src.sent_by))
    received = minus(src.received, short(src.received_by, src.sent_by, needed))
    done_by = {
        topic: finished_by_all((t, ids) for (t, _agent), ids in src.processed.items() if t == topic)
        for topic in per_topic
    }
    finished = {t: ids for t, ids in done_by.items() if ids is not None}
    if not finished:
        return _Stages(src.sent, acked, received, None)
    received_by = {t: ids for t, ids in src.received_by.items() if t in needed}
    all_done = minus(
        both(_union(list(finished.values())), received), short(finished, received_by, received_by)
    )
    return _Stages(src.sent, acked, received, all_done)


def _with_proven(src: SourceState, passes: Mapping[Cause, Passed] | None, proven: Ids) -> SourceState:
    """``src`` with the values positions passed for the settle timeout recorded as lost, by cause,
    with the proof in words as the cause's note (Kafka's order proves them: genmon saw them pass)."""
    if not passes or not proven:
        return src
    damaged, notes = dict(src.damaged), dict(src.notes)
    for cause, (ids, note) in proven_notes(passes, proven).items():
        damaged[cause] = ids
        notes[cause] = note
    return src.evolve(damaged=damaged, notes=notes)


def _union(sets: list[Ids]) -> Ids:
    out = sets[0]
    for more in sets[1:]:
        out = either(out, more)
    return out


def _pairs(src: SourceState, stages: _Stages) -> tuple[tuple[Stage, Ids, Ids | None], ...]:
    """Per stage: the ids that reached the stage before it, and those that reached it."""
    expected = src.expected if src.expected is not None else id_range(src.floor + 1, src.seq)
    return (
        (Stage.SENT, expected, stages.sent),
        (Stage.ACKED, stages.sent, stages.acked),
        (Stage.RECEIVED, stages.acked, stages.received),
        (Stage.PROCESSED, stages.received, stages.done),
    )


def _missing_at(src: SourceState, stages: _Stages, stage: Stage | None) -> Ids | None:
    """Every id missing at ``stage`` (not only the first runs a snapshot shows)."""
    for at, before, reached in _pairs(src, stages):
        if at == stage:
            return before if reached is None else minus(before, reached)
    return None


def _missing(src: SourceState, stages: _Stages, judged_to: Stage | None = None) -> dict[Stage, MissingIds]:
    """Which ids reached each stage's predecessor but not the stage: the *which* behind a count;
    ``judged_to``: the last stage that applies (a row whose values leave by a sink topic is judged
    up to acked — nobody here is meant to receive them, so none is missing there)."""
    pairs = _pairs(src, stages)
    if judged_to is not None:
        pairs = pairs[: STAGES.index(judged_to)]
    missing = {}
    for stage, before, reached in pairs:
        if reached is None:
            ids = before
        elif len(reached) == len(before) and reached == before:
            continue  # nothing missing, found without building an empty difference (most stages)
        else:
            ids = minus(before, reached)
        if ids:
            missing[stage] = MissingIds.of(ids)
    return missing


def _with_also(verdict: Verdict, also: Verdict, app: AppReading | None, gone_may_hold: bool) -> Verdict:
    """The seen loss's verdict, ending with what else is missing: lost, or unverifiable when a
    worker that may have held those values is gone (as for a row with no seen loss)."""
    if app is not None and app.gone and gone_may_hold:
        also = _unverifiable(also, app.gone[0])
    return replace(verdict, text=f"{verdict.text} · {also.text}", also=also)


def _gone_may_hold(src: SourceState, stages: _Stages, reading: Reading, loss: Verdict) -> bool:
    """Whether a worker that fell silent may hold the values a quiet ``loss`` names. Any may hold a
    value missing after sent (it may have read it and died); a value yielded and never sent, only
    the run that yielded it — a fleet's row names it in its ids (``run << 32 | seq``), so a worker
    that stopped cleanly between a yield and its send lost the value, whoever else fell silent."""
    if loss.stage != Stage.SENT or len(loss.shortfalls) > 1 or src.expected is None:
        return True
    missing = _missing_at(src, stages, Stage.SENT)
    if missing is None:
        return True
    gone = [w.number for w in reading.workers if w.state == WorkerState.GONE]
    return any(within(missing, n << ORIGIN_SHIFT, ((n + 1) << ORIGIN_SHIFT) - 1) for n in gone)


def _unverifiable(verdict: Verdict, gone: str) -> Verdict:
    """A quiet loss while a worker is ``gone`` (fell silent between reports): what it did last is
    unknown, so the shortfall is not proof of loss."""
    worker = gone.split(" ", 1)[0]
    where = (
        shortfalls_text(verdict.shortfalls)
        if len(verdict.shortfalls) > 1
        else f"{verdict.lost:,} at {verdict.stage}"
    )
    return Verdict(
        VerdictState.UNVERIFIABLE,
        f"unverifiable: {where} ({worker} gone)",
        verdict.stage,
        in_flight=verdict.lost,
        error=gone,
        shortfalls=verdict.shortfalls,
    )


def batch_window(src: SourceState, app: AppReading | None) -> float:
    """The longest ``take(n, within=W)`` window of the agents that process this row's values."""
    if app is None or not app.windows:
        return 0.0
    readers = [agent for topic in src.topics for agent in app.readers.get(topic, ())]  # before any finished
    names = {agent.rsplit(".", 1)[-1] for agent in (*src.agents, *readers)}
    return max((seconds for agent, seconds in app.windows.items() if agent in names), default=0.0)


def _pipeline(
    src: SourceState,
    stages: _Stages,
    app: AppReading | None,
    reading: Reading,
    clocks: Clocks,
    read: set[str] | None,
    rows: Mapping[str, str],
) -> PipelineSnapshot:
    now = reading.now
    counts = stages.counts(src)
    damaged = {cause: MissingIds.of(ids) for cause, ids in src.damaged.items() if ids}
    sinks, misnamed = sinks_of(src, read)
    judged = (
        Counts(counts.yielded, counts.sent, counts.acked, counts.acked, counts.acked) if sinks else counts
    )
    if app is not None and app.state == AppState.CRASHED:
        error = app.error or "the Faust app crashed"
        verdict = Verdict(VerdictState.CRASHED, f"app crashed: {error}", error=error)
    else:
        seen: dict[Stage, tuple[int, Cause]] = {}
        for cause, lost in sorted(damaged.items(), key=lambda item: -item[1].count):
            count, first = seen.get(cause.stage, (0, cause))  # several causes: the biggest names it
            seen[cause.stage] = (count + lost.count, first)
        verdict = clocks.verdict(src.name, judged, src.on, now, seen)
        if verdict.lost_at == Stage.RECEIVED and verdict.cause is None and replies_only(src, reading):
            # Faust's reply consumer subscribes to the reply topic at the first ask and then waits
            # up to 45 s to resubscribe: until then replies are late, not lost.
            patient = replace(clocks, settle_seconds=clocks.settle_seconds + REPLY_SUBSCRIBE_SECONDS)
            verdict = patient.verdict(src.name, judged, src.on, now, seen)
            if verdict.state == VerdictState.IN_FLIGHT:
                text = f"ok · {verdict.in_flight:,} {REPLIES_WAIT}"
                verdict = replace(verdict, text=text)
        batch = batch_window(src, app)
        if verdict.lost_at == Stage.PROCESSED and verdict.cause is None and batch:
            # an agent batching with take(n, within=W) holds values up to W by design: they are in
            # flight until the window can have closed, whatever the settle timeout is
            patient = replace(clocks, settle_seconds=clocks.settle_seconds + batch)
            verdict = patient.verdict(src.name, judged, src.on, now, seen)
            if verdict.state == VerdictState.IN_FLIGHT:
                why = f"a take() batch holds values up to {batch:g} s"
                verdict = replace(verdict, text=f"ok · {verdict.in_flight:,} in flight ({why})")
        verdict = stuck(verdict, src, app, reading, clocks) or verdict
        outage = broker_outage(verdict, clocks, src.name, reading)
        window = f"broker {outage.state} {outage.window()}" if outage is not None else ""
        if outage is not None and verdict.state == VerdictState.LOST:
            verdict = replace(
                verdict,
                text=f"lost with the broker at {verdict.stage}: {verdict.lost:,} ({window})",
                cause=Cause.BROKER,
                error=window,
            )
        elif outage is not None:  # still in flight: waiting for a broker that does not answer now
            verdict = replace(verdict, text=f"{verdict.text} · waiting for the broker ({window})")
        elif (shared := shared_group(verdict, app, reading)) is not None:
            # Consumers genmon does not follow read some partitions: what they took is not lost.
            verdict = Verdict(
                VerdictState.UNVERIFIABLE,
                f"unverifiable: {verdict.lost:,} at {verdict.stage} ({shared})",
                verdict.stage,
                in_flight=verdict.lost,
                error=shared,
            )
        elif (
            verdict.state == VerdictState.LOST
            and verdict.cause is None
            and app is not None
            and app.gone
            and _gone_may_hold(src, stages, reading, verdict)
        ):
            verdict = _unverifiable(verdict, app.gone[0])
        elif len(causes := [c for c in damaged if c.stage == verdict.lost_at]) > 1:
            # several ways values were lost on the way to one stage: each, with its count
            parts = "; ".join(
                f"{c.words}: {damaged[c].count:,}" for c in sorted(causes, key=lambda c: -damaged[c].count)
            )
            verdict = replace(verdict, text=f"lost at {verdict.stage}: {verdict.lost:,} ({parts})")
        elif verdict.cause is not None and verdict.cause in src.notes:
            # What genmon saw happen, in its own words: "agent count raised KeyError('x')".
            note = src.notes[verdict.cause]
            verdict = replace(verdict, text=f"lost at {verdict.stage}: {verdict.lost:,} ({note})", error=note)
        elif src.switching and verdict.state != VerdictState.LOST:
            verdict = replace(verdict, text=src.switching)
        elif misnamed is not None and verdict.lost_at == Stage.RECEIVED:
            sent_to, reads = misnamed
            text = (
                f"{verdict.text} (probably a wrong topic name: sent to {sent_to}, your agent reads {reads})"
            )
            verdict = replace(verdict, text=text)
        elif sinks and verdict.state in (VerdictState.OK, VerdictState.IN_FLIGHT):
            verdict = replace(verdict, text=f"{verdict.text} · to sink {', '.join(sinks)}")
        if verdict.also is not None:
            # the rest of the shortfall is judged as a row's own would be: values waiting behind an
            # agent that a decode failure or a raise stopped are stuck, not lost
            also = stuck(verdict.also, src, app, reading, clocks) or verdict.also
            held = also.state == VerdictState.LOST and _gone_may_hold(src, stages, reading, also)
            verdict = _with_also(verdict, also, app, held)
    if src.stalls and verdict.state in (VerdictState.OK, VerdictState.IN_FLIGHT, VerdictState.PAUSED):
        # counted "stalled" in the header: the row says why, not only "ok"
        times = "once" if src.stalls == 1 else f"{src.stalls:,} times"
        verdict = replace(
            verdict, text=f"{verdict.text} · blocked the loop {times} (longest {src.longest_stall:.2f}s)"
        )
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
        missing=_missing(src, stages, judged_to=Stage.ACKED if sinks else None),
        damaged=damaged,
        latency_ms=dict(src.latency_ms),
        offsets=tuple(reading.offsets[topic] for topic in src.topics if topic in reading.offsets),
        sinks=sinks,
        misnamed=misnamed,
        downstream=downstream_of(src),
        came_from=lost_from(
            src, verdict, _missing_at(src, stages, verdict.stage) if src.made_from else None, rows
        ),
        code=src.code,
    )
