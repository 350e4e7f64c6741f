"""Merging what every worker reported into one :class:`~genmon.model.state.Reading`.

A value has one *origin*: the process run whose generator yielded it (``name@token``). Its sending
stages (yielded, sent, acked) are known only to that process; its receiving stages to whichever
worker Kafka gave its partition — another process, or two of them after a rebalance. So, per origin:

* sent and acked come from the origin's own report; received and processed are the union of every
  worker's sets (a value received by two workers is one value, and one duplicate: a redelivery);
* a later stage implies the earlier ones (a received value was sent and acked): reports are taken
  at different moments, and a stage is never shown ahead of an earlier one because of that;
* a reset is a floor per origin (its last reported id), applied here, so it needs no agreement
  between workers on when it happened.

Origins of one generator name (the same generator running in three workers) make one row. Their
ids would collide (each numbers its values from 1), so in that case ids become
``worker << 32 | seq`` and are shown as ``w2:17`` (:func:`genmon.model.ids.id_text`).

Pure: no clock, no thread, no I/O. The watcher (and the in-process host) feed it reports and the
time, and hand the reading to :func:`genmon.model.build`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from genmon.model.delta import fold
from genmon.model.hops import settled
from genmon.model.latency import latency_summary
from genmon.model.origins import lift_all, merge_origin
from genmon.model.rows import combined
from genmon.model.snapshot import BrokerInfo, LoopStalls, TopicOffsets
from genmon.model.state import AppReading, InboundState, Reading, SourceState, WorkerStatus
from genmon.model.vocabulary import AppState, Stage
from genmon.model.wire import WorkerReport

LATENCY_REFRESH_SECONDS = 5.0
"""While values flow a row's latency percentiles are recomputed at most this often (decoding every
worker's histogram for every row on every snapshot was most of a watcher's work); once they stop
flowing the figures are exact."""
LATENCY_ROWS_PER_READING = 20
"""At most this many rows' percentiles are recomputed per reading (decoding, summing and walking a
row's histograms took ~1 ms: with 200 busy rows, recomputing every histogram a worker sends every
few seconds was a fifth of a snapshot's cost); the others keep theirs until their turn, the rows
waiting longest first. A row seen for the first time always gets its figures."""
GONE_AFTER_INTERVALS = 3
"""A worker silent for this many report intervals (plus a second of slack) is gone."""
STATE_ORDER = (AppState.CRASHED, AppState.RUNNING, AppState.STARTING, AppState.STOPPING, AppState.STOPPED)
"""When a fleet's workers disagree on an app's state, the first of these that any alive worker is in."""
ENDED_ORDER = (AppState.STOPPED, AppState.CRASHED, AppState.STOPPING, AppState.RUNNING, AppState.STARTING)
"""When no worker is alive, how the fleet ended: the first of these that a run of its end is in. A
clean stop comes first: a worker told to stop while it starts crashes (Faust's ``NotReady``) as the
rest stop cleanly, and that crash is the stop's doing, not the app's."""
ENDED_TOGETHER_SECONDS = 15.0
"""Runs whose last reports arrived this close to the newest one ended together: the fleet's end. A
graceful stop takes each worker up to Faust's 10 s stop timeout; a run that ended earlier (crashed
an hour ago and was started again) says nothing about how the fleet ended."""


@dataclass(frozen=True)
class Heard:
    """The newest report of one worker, and when (watcher's monotonic clock) it arrived."""

    report: WorkerReport
    arrived: float
    number: int
    first_arrived: float

    def gone(self, now: float) -> bool:
        """Fell silent without a final report."""
        silent = now - self.arrived
        return not self.report.final and silent > self.report.interval * GONE_AFTER_INTERVALS + 1.0


@dataclass(frozen=True)
class Switch:
    """The desired state of one generator (``*``: all of them), as the control topic holds it."""

    on: bool
    stamp: int
    """Orders switches: the newer of a generator's own switch and ``*`` wins."""


class Fleet:
    """The newest report of every worker, the reset floors, and the merge. Not thread-safe by itself:
    its mutators replace whole dicts, so a reader on another thread sees one state or the next."""

    def __init__(self) -> None:
        self.heard: dict[str, Heard] = {}
        self.floors: dict[str, int] = {}
        """origin -> ids at or below it were before the last reset"""
        self.version = 0
        """Bumped by every change of the reports or the floors: merges are reused until it moves."""
        self._merged: tuple[int, tuple[SourceState, ...], dict[str, dict[Stage, int]]] | None = None
        self._latency: dict[str, tuple[float, str, SourceState, SourceState]] = {}
        """row -> when its percentiles were computed, from which histograms, and the last merged row
        they were put on (and the copy that carries them)"""
        self.missed = 0
        """Deltas that could not be folded (no checkpoint before them): the next checkpoint mends it."""
        self.rejected = 0
        """Records on the reports topic that were not a report genmon can read (refused whole)."""
        self.unverified: dict[str, int] = {}
        """With a secret: records refused because they do not verify, by the key id they claim."""
        self.switches: dict[tuple[str, str], Switch] = {}
        """(app id, generator or ``*``) -> the desired state (empty: nobody switched anything)"""
        self.switches_refused: str | None = None
        """Why the broker refused the last switch this watcher sent (an ACL), or None."""
        self.recorder: Any = None
        """Told every report kept, every reset and switch (``--record``: genmon.watch.recorder)."""

    # -- input ---------------------------------------------------------------------------------
    def add(self, report: WorkerReport, now: float) -> None:
        """Keep ``report`` if it is this worker's newest; ``now``: the watcher's monotonic clock."""
        known = self.heard.get(report.worker)
        if known is not None and known.report.number >= report.number:
            return
        if report.delta:
            if known is None or known.report.number != report.number - 1:
                self.missed += 1  # a gap in the chain: wait for the worker's next checkpoint
                return
            report = fold(known.report, report)
        number = known.number if known else 1 + max((h.number for h in self.heard.values()), default=0)
        first = known.first_arrived if known else now
        self.heard = {**self.heard, report.worker: Heard(report, now, number, first)}
        self.version += 1
        if self.recorder is not None:
            self.recorder.report(report, now)

    def settle_hops(self) -> None:
        """Let go of hop runs whose values some worker processed (:func:`genmon.model.hops.settled`):
        the watcher calls it every minute, so what it holds of the worker runs it ever heard of
        stays what can still be lost."""
        changed = settled({worker: h.report for worker, h in self.heard.items()})
        if changed:
            self.heard = {
                w: replace(h, report=changed[w]) if w in changed else h for w, h in self.heard.items()
            }
            self.version += 1

    def forget_before(self, started: float) -> None:
        """Drop workers whose last word came before ``started`` (seconds since the epoch): a snapshot
        topic on a long-lived broker still holds the final reports of last week's workers."""
        self.heard = {w: h for w, h in self.heard.items() if h.report.at >= started}
        self.version += 1

    def reset(self) -> None:
        """Count from now: every origin's ids so far go below its floor."""
        floors = dict(self.floors)
        for heard in self.heard.values():
            for src in heard.report.sources:
                if not src.foreign:
                    floors[src.origin] = max(floors.get(src.origin, 0), src.seq)
        self.floors = floors
        self.version += 1
        if self.recorder is not None:
            self.recorder.reset()

    def switch(self, app_id: str, name: str, on: bool, stamp: int) -> None:
        """Record a desired state (read back from the control topic, or set by an in-process host)."""
        key = (app_id, name)
        known = self.switches.get(key)
        if known is None or known.stamp <= stamp:
            self.switches = {**self.switches, key: Switch(on, stamp)}
            self.version += 1
            if self.recorder is not None:
                self.recorder.switch(app_id, name, on, stamp)

    def unswitch(self, app_id: str, name: str, stamp: int) -> None:
        """Forget a desired state that never reached the workers (its record was refused)."""
        known = self.switches.get((app_id, name))
        if known is not None and known.stamp == stamp:
            self.switches = {k: v for k, v in self.switches.items() if k != (app_id, name)}
            self.version += 1

    # -- output --------------------------------------------------------------------------------
    def reading(
        self,
        now: float,
        *,
        broker: BrokerInfo,
        offsets: Mapping[str, TopicOffsets] | None = None,
        settle_seconds: float = 5.0,
        log_path: str | None = None,
        uptime: float = 0.0,
        listening_rows: bool = False,
        group_members: Mapping[str, int] | None = None,
        wall: float = 0.0,
    ) -> Reading:
        heard = sorted(self.heard.values(), key=lambda h: h.number)
        several = len(heard) > 1
        apps = _merge_apps(heard, now, broker.up)
        owners = {(h.report.worker, app.label): app.app_id for h in heard for app in h.report.apps}
        merged = self._merged
        version = self.version
        if merged is None or merged[0] != version:
            merged = (version, *self._merge_sources(heard, owners, several))
            self._merged = merged
        _, sources, shares = merged
        sources = tuple(self._switching(sources, heard, now))
        turns = self._latency_due(sources, now)
        sources = tuple(self._with_latency(src, now, turns) for src in sources)
        inbound: dict[str, InboundState] = {}
        for h in heard:
            for topic, i in h.report.inbound.items():
                known = inbound.get(topic)
                if known is None:
                    inbound[topic] = i
                else:
                    agents = {
                        a: known.processed.get(a, 0) + i.processed.get(a, 0)
                        for a in {*known.processed, *i.processed}
                    }
                    inbound[topic] = InboundState(topic, known.received + i.received, agents)
        workers = tuple(
            WorkerStatus(
                number=h.number,
                name=h.report.name,
                app_ids=tuple(dict.fromkeys(app.app_id for app in h.report.apps)),
                alive=not h.report.final and not h.gone(now),
                final=h.report.final,
                uptime=max(h.report.at - h.report.started, 0.0),
                age=max(now - h.arrived, 0.0),
                shares=shares.get(h.report.worker, {}),
                stalls=combined(app.stalls for app in h.report.apps),
            )
            for h in heard
        )
        return Reading(
            now=now,
            broker=broker,
            apps=apps,
            sources=sources,
            inbound=inbound,
            offsets=dict(offsets or {}),
            settle_seconds=settle_seconds,
            log_path=log_path,
            uptime=uptime,
            listening_rows=listening_rows,
            workers=workers,
            group_members=dict(group_members or {}),
            wall=wall,
            rejected=self.rejected,
            unverified=dict(self.unverified),
            switches_refused=self.switches_refused,
        )

    def _with_latency(self, src: SourceState, now: float, turns: set[str]) -> SourceState:
        """The row's latency percentiles: computed the first time, then again when it is the row's
        turn (``turns``, see :meth:`_latency_due`); exact again once its histograms stop changing."""
        if not src.latency_hist:
            return src
        cached = self._latency.get(src.name)
        if cached is None or src.name in turns:
            out = src.evolve(latency_ms=latency_summary(src.latency_hist))
            self._latency[src.name] = (now, src.latency_hist, src, out)
        elif cached[2] is src:
            out = cached[3]  # the same merged row as the last reading: no copy
        else:
            out = src.evolve(latency_ms=cached[3].latency_ms)
            self._latency[src.name] = (cached[0], cached[1], src, out)
        return out

    def _latency_due(self, sources: tuple[SourceState, ...], now: float) -> set[str]:
        """The rows whose percentiles are recomputed in this reading: changed histograms not
        recomputed for ``LATENCY_REFRESH_SECONDS``, the longest waiting first, at most
        ``LATENCY_ROWS_PER_READING``."""
        due = []
        for src in sources:
            cached = self._latency.get(src.name)
            if (
                cached is not None
                and cached[1] != src.latency_hist
                and now - cached[0] >= LATENCY_REFRESH_SECONDS
            ):
                due.append((cached[0], src.name))
        if len(due) > LATENCY_ROWS_PER_READING:
            due = sorted(due)[:LATENCY_ROWS_PER_READING]
        return {name for _, name in due}

    def consumed(self) -> set[str]:
        return {topic for h in self.heard.values() for topic in h.report.consumed}

    def _merge_sources(
        self, heard: list[Heard], owners: Mapping[tuple[str, str], str], several: bool
    ) -> tuple[tuple[SourceState, ...], dict[str, dict[Stage, int]]]:
        senders: dict[str, tuple[Heard, SourceState]] = {}
        receivers: dict[str, list[tuple[Heard, SourceState]]] = {}
        for h in heard:
            for src in h.report.sources:
                if not src.foreign:
                    senders[src.origin] = (h, src)
                receivers.setdefault(src.origin, []).append((h, src))
        merged: dict[str, list[tuple[int, SourceState, Heard]]] = {}
        shares: dict[str, dict[Stage, int]] = {}
        for origin, (h, sender) in senders.items():
            floor = max(sender.floor, self.floors.get(origin, 0))
            owner = owners.get((h.report.worker, sender.owner or ""), None)
            if owner is None and h.report.apps:
                owner = h.report.apps[0].app_id
            src = merge_origin(sender, receivers.get(origin, []), floor, shares, owner)
            merged.setdefault(src.name, []).append((h.number, src, h))
        out = []
        for name, parts in merged.items():
            if len(parts) == 1:
                out.append(parts[0][1])
            else:
                out.append(lift_all(name, sorted(parts, key=lambda p: p[0])))
        return tuple(out), shares

    def _switching(
        self, sources: tuple[SourceState, ...], heard: list[Heard], now: float
    ) -> Iterable[SourceState]:
        """Each switchable source's desired state, and whether every alive worker obeys it yet (a
        worker that fell silent without a final report — killed — is not waited for)."""
        if not self.switches:
            yield from sources
            return
        now_alive = {h.report.worker for h in heard if not h.report.final and not h.gone(now)}
        for src in sources:
            wanted = self._wanted(src.owner or "", src.name)
            if wanted is None or not src.kind.switchable:
                yield src
                continue
            states = [
                s.on
                for h in heard
                if h.report.worker in now_alive
                for s in h.report.sources
                if s.name == src.name and not s.foreign
            ]
            obeying = sum(1 for on in states if on == wanted)
            text = None
            if states and obeying < len(states):
                text = f"switching {'on' if wanted else 'off'} ({obeying} of {len(states)} workers)"
            yield src.evolve(on=wanted, switching=text)

    def _wanted(self, app_id: str, name: str) -> bool | None:
        own, every = self.switches.get((app_id, name)), self.switches.get((app_id, "*"))
        newest = max((s for s in (own, every) if s is not None), key=lambda s: s.stamp, default=None)
        return newest.on if newest else None


def _fell_silent(h: Heard, now: float) -> str:
    return f"w{h.number} ({h.report.name}) fell silent {now - h.arrived:.0f}s ago"


def _ended_together(runs: list[tuple[Heard, AppReading]]) -> list[tuple[Heard, AppReading]]:
    """The runs of a fleet with no worker alive that ended with the last of them."""
    last = max(h.arrived for h, _ in runs)
    return [(h, a) for h, a in runs if last - h.arrived <= ENDED_TOGETHER_SECONDS]


def _merge_apps(heard: list[Heard], now: float, broker_up: bool = True) -> tuple[AppReading, ...]:
    """One app reading per app id: its workers' states, readers, assignments and stalls combined.

    Workers report through the broker: while it does not answer, their silence says nothing about
    them, so a silent fleet is not called crashed then (its rows wait for the broker instead)."""
    by_id: dict[str, list[tuple[Heard, AppReading]]] = {}
    for h in heard:
        for app in h.report.apps:
            by_id.setdefault(app.app_id, []).append((h, app))
    apps = []
    for app_id, runs in by_id.items():
        alive = [(h, a) for h, a in runs if not h.report.final and not h.gone(now)]
        gone = tuple(_fell_silent(h, now) for h, _ in runs if h.gone(now))
        pool = alive or _ended_together(runs)
        states = {a.state for _, a in pool}
        state = next((s for s in (STATE_ORDER if alive else ENDED_ORDER) if s in states), AppState.STOPPED)
        error = next((a.error for _, a in pool if a.state == state and a.error), None)
        if not alive and broker_up and not any(h.report.final for h, _ in pool):
            state, error = (
                AppState.CRASHED,
                f"every worker stopped reporting: {_fell_silent(pool[0][0], now)}",
            )
        readers: dict[str, tuple[str, ...]] = {}
        for _, a in pool:
            for topic, agents in a.readers.items():
                readers[topic] = tuple(dict.fromkeys((*readers.get(topic, ()), *agents)))
        positions: dict[tuple[str, int], tuple[int, int]] = {}
        for _, a in runs:  # every worker that ever read a partition: its offsets stay facts
            for tp, (first, last) in a.positions.items():
                was = positions.get(tp, (first, last))
                positions[tp] = (min(was[0], first), max(was[1], last))
        assigned_sets = [a.assigned for _, a in alive]
        assigned = (
            frozenset().union(*(s for s in assigned_sets if s is not None))
            if assigned_sets and all(s is not None for s in assigned_sets)
            else None
        )
        crashes: dict[str, tuple[str, float]] = {}
        for _, a in runs:  # each agent's latest crash in any worker
            for agent, (note, at) in a.crashes.items():
                if agent not in crashes or at > crashes[agent][1]:
                    crashes[agent] = (note, at)
        apps.append(
            AppReading(
                label=app_id,
                app_id=app_id,
                state=state,
                error=error,
                readers=readers,
                assigned=assigned,
                stalls=combined(a.stalls for _, a in pool) if pool else LoopStalls(),
                gone=gone,
                members=len(alive) or len(runs),
                positions=positions,
                offset_reset=next((a.offset_reset for _, a in pool), "earliest"),
                not_imported=tuple(dict.fromkeys(line for _, a in runs for line in a.not_imported)),
                crashes=crashes,
                windows={
                    agent: max(a.windows.get(agent, 0.0) for _, a in runs)
                    for _, r in runs
                    for agent in r.windows
                },
                declared={t: n for _, a in runs for t, n in a.declared.items()},
            )
        )
    return tuple(apps)
