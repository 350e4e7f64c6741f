"""The host: Faust apps, instrumented, each on its own event loop in its own thread.

The screen never shares a loop with Faust (DESIGN rule 1): a generator that blocks Faust's loop
stalls that app, and the host still answers ``snapshot()`` because snapshots read the probe's
counters directly (they only ever grow on the Faust threads; reads take later stages first).
Commands that must not race a hook (reset) are posted to the apps' loops.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from genmon.broker import BrokerAddress
from genmon.host.apprun import AppFactory, AppRun, one_line
from genmon.host.offsets import OffsetWatcher
from genmon.host.settle import SettleTracker
from genmon.model import (
    AppStatus,
    BrokerInfo,
    Counts,
    LoopStalls,
    MissingIds,
    PipelineSnapshot,
    Snapshot,
    Verdict,
)
from genmon.probe import Probe
from genmon.probe.source import CAUSE_STAGE, RawSource

BROKER_POLL_SECONDS = 2.0
FINAL_QUIET_SECONDS = 1.0

__all__ = ["Host", "HostError", "one_line"]


class HostError(Exception):
    """The app could not be started; the message is one line, fit for the terminal."""


class Host:
    """Owns the Faust threads; every public method is safe to call from any other thread."""

    def __init__(
        self,
        factory: AppFactory | None = None,
        *,
        factories: Sequence[AppFactory | tuple[AppFactory, float]] = (),
        broker: BrokerAddress,
        embedded: bool,
        broker_alive: Callable[[], bool] | None = None,
        settle_seconds: float = 5.0,
        log_path: str | None = None,
        start_timeout: float = 60.0,
        probe: Probe | None = None,
        listening_rows: bool = False,
    ) -> None:
        plans = [(f, 0.0) if callable(f) else f for f in ([factory] if factory else []) + list(factories)]
        if not plans:
            raise ValueError("Host needs at least one app factory")
        self.probe = probe or Probe()
        self.listening_rows = listening_rows
        self.runs = [AppRun(f, self.probe, f"app{i}", delay) for i, (f, delay) in enumerate(plans)]
        self._broker = broker
        self._embedded = embedded
        self._broker_alive = broker_alive
        self._broker_reachable = True
        self.settle_seconds = settle_seconds
        self.log_path = log_path
        self.start_timeout = start_timeout
        self._settle = SettleTracker(settle_seconds)
        self._lock = threading.Lock()
        self._started_at = time.monotonic()
        self._watcher: threading.Thread | None = None
        self._stopping = threading.Event()
        self.offsets = OffsetWatcher(broker.bootstrap, self._topics_to_watch)

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def app(self) -> Any:
        return self.runs[0].app

    @property
    def app_id(self) -> str:
        return self.runs[0].app_id

    def start(self) -> Host:
        """Start every app; return once each is running or has failed.

        Raises :class:`HostError` when no app could start (with the first app's one-line reason).
        An app that fails while others run is shown as crashed on its pipelines' rows instead.
        """
        self.probe.install()
        for run in self.runs:
            run.start()
        deadline = time.monotonic() + self.start_timeout
        for run in self.runs:
            if run.delay:
                continue  # started later on purpose (e.g. a consumer that joins late)
            if not run.ready.wait(max(deadline - time.monotonic(), 0.0)):
                run.error = f"the Faust app did not start within {self.start_timeout:.0f}s"
                run.state = "crashed"
        if not any(run.state == "running" for run in self.runs):
            error = next((run.error for run in self.runs if run.error), "the Faust app did not start")
            self.stop()
            raise HostError(error)
        self.offsets.start()
        if not self._embedded:
            self._watcher = threading.Thread(target=self._watch_broker, name="genmon-broker", daemon=True)
            self._watcher.start()
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Stop every app (idempotent). Apps stop in parallel; a stalled loop is abandoned."""
        self._stopping.set()
        self.offsets.stop()
        stoppers = [threading.Thread(target=run.stop, args=(timeout,), daemon=True) for run in self.runs]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join(timeout + 1)
        self.probe.uninstall()

    def _topics_to_watch(self) -> dict[str, str | None]:
        """Every topic a tracked generator sent to, with the group of the app whose agents read it."""
        readers = {topic: run.app_id for run in self.runs for topic in run.consumed}
        if len(self.runs) == 1:  # a topic read by a stream, not an agent (a group_by repartition)
            readers.update({topic: self.runs[0].app_id for topic in list(self.probe.consumed)})
        return {
            topic: readers.get(topic) for src in list(self.probe.sources.values()) for topic in src.topics
        }

    def _watch_broker(self) -> None:
        """Keep the header's up/down honest for an external broker (embedded: the process)."""
        import socket

        while not self._stopping.is_set():
            try:
                with socket.create_connection((self._broker.host, self._broker.port), timeout=1.0):
                    self._broker_reachable = True
            except OSError:
                self._broker_reachable = False
            self._stopping.wait(BROKER_POLL_SECONDS)

    # -- commands --------------------------------------------------------------------------
    def set_generator(self, name: str, on: bool) -> None:
        """Switch a tracked generator; KeyError for an unknown name, ValueError for a row that is
        not a tracked generator (a sending task, timer or agent: genmon cannot pause those)."""
        if name not in self.probe.sources:
            raise KeyError(name)
        if self.probe.sources[name].kind == "sender":
            raise ValueError(
                f"{name} is not a tracked generator; wrap its values with @genmon.track to switch it"
            )
        # The switch is a plain bool read by the wrapper; set it at once so the next value obeys.
        self.probe.set_on([name], on)

    def set_all(self, on: bool) -> None:
        self.probe.set_on(None, on)

    def reset(self) -> None:
        """Zero every count; each app's sources are reset on its own loop, so no hook sees half."""
        owned: set[str] = set()
        for run in self.runs:
            names = [n for n in run.pipelines if n in self.probe.sources]
            owned.update(names)
            run.post(self._reset_sources, names, run)
        orphans = [n for n in self.probe.sources if n not in owned]
        if orphans:
            self.runs[0].post(self._reset_sources, orphans, None)

    def _reset_sources(self, names: list[str], run: AppRun | None) -> None:
        for name in names:
            self.probe.sources[name].reset()
        if run is not None:
            run.reset_stalls()
        with self._lock:
            self._settle.forget(names)

    # -- reading ---------------------------------------------------------------------------
    def broker_up(self) -> bool:
        if self._broker_alive is not None:
            return self._broker_alive()
        return self._broker_reachable

    def _row_order(self, raw: RawSource) -> tuple[int, int]:
        """Rows in the order the apps were given, then as each app declared its generators."""
        for index, run in enumerate(self.runs):
            if raw.name in run.pipelines:
                return index, run.pipelines.index(raw.name)
        return len(self.runs), 0

    def _run_of(self, name: str) -> AppRun:
        for run in self.runs:
            if name in run.pipelines:
                return run
        return self.runs[0]

    def snapshot(self, final: bool = False) -> Snapshot:
        """One reading of every pipeline. ``final``: the run has settled, shortfalls are losses."""
        raws = sorted(self.probe.read(), key=self._row_order)
        now = time.monotonic()
        stalls = {id(run): run.current_stalls(now) for run in self.runs}
        with self._lock:
            pipes = tuple(self._pipeline(raw, now, final, stalls) for raw in raws)
        pipes = _flow_order(pipes)
        if self.listening_rows:
            pipes += self._listening(pipes)
        apps = tuple(
            AppStatus(
                app_id=run.app_id,
                state="crashed" if run.crash_reason() else run.state,
                error=run.crash_reason(),
                pipelines=run.pipelines,
                consumed=run.consumed,
                stalls=stalls[id(run)],
            )
            for run in self.runs
        )
        first = apps[0]
        return Snapshot(
            app_id=first.app_id,
            broker=BrokerInfo(self._broker.url, self._embedded, self.broker_up()),
            app_state=first.state,
            pipelines=pipes,
            error=first.error,
            log_path=self.log_path,
            settle_seconds=self.settle_seconds,
            uptime=now - self._started_at,
            stalls=_combined(app.stalls for app in apps),
            apps=apps,
        )

    def _pipeline(
        self, raw: RawSource, now: float, final: bool, stalls: dict[int, LoopStalls]
    ) -> PipelineSnapshot:
        run = self._run_of(raw.name)
        counts = _counts(raw)
        known = self.offsets.offsets
        offsets = tuple(known[topic] for topic in raw.topics if topic in known)
        self._settle.observe(raw.name, counts, now)
        # A pipeline still moving when the run is declared settled (a timer genmon cannot pause)
        # is judged as running: its shortfall is in flight, not lost.
        final = final and self._settle.quiet_for(raw.name, now) >= FINAL_QUIET_SECONDS
        crash = run.crash_reason()
        if crash is not None:
            verdict = Verdict("crashed", f"app crashed: {crash}")
        else:
            definite = {CAUSE_STAGE[cause]: (ids[0], cause) for cause, ids in raw.damaged.items()}
            verdict = self._settle.verdict(raw.name, counts, raw.on, now, final, definite)
        return PipelineSnapshot(
            name=raw.name,
            generator=raw.function,
            kind=raw.kind,
            on=raw.on,
            counts=counts,
            verdict=verdict,
            app_id=run.app_id,
            topics=raw.topics,
            agents=raw.agents,
            processed_by=raw.processed,
            duplicates=raw.duplicates,
            reorders=raw.reorders,
            stalls=raw.stalls,
            longest_stall=raw.longest_stall,
            loop_stalls=stalls[id(run)].count,
            missing={stage: MissingIds(*ids) for stage, ids in raw.missing.items()},
            damaged={cause: MissingIds(*ids) for cause, ids in raw.damaged.items()},
            latency_ms=raw.latency_ms,
            offsets=offsets,
        )

    def _listening(self, pipes: tuple[PipelineSnapshot, ...]) -> tuple[PipelineSnapshot, ...]:
        """A row per topic an agent reads that no followed source sends to: what it receives
        comes from code genmon does not see (another service), or nothing does."""
        sent_to = {topic for pipe in pipes for topic in pipe.topics}
        rows = []
        for run in self.runs:
            for topic, agents in run.readers.items():
                if topic in sent_to:
                    continue
                inbound = self.probe.inbound.get(topic)
                received = inbound.received if inbound else 0
                processed = min(inbound.processed.values()) if inbound and inbound.processed else 0
                text = f"{received} from untracked senders" if received else "nothing sends here"
                rows.append(
                    PipelineSnapshot(
                        name=topic,
                        generator="",
                        kind="topic",
                        on=False,
                        counts=Counts(0, 0, 0, received, processed),
                        verdict=Verdict("idle", text),
                        app_id=run.app_id,
                        topics=(topic,),
                        agents=agents,
                        processed_by=dict(inbound.processed) if inbound else {},
                    )
                )
        return tuple(rows)

    def wait_settled(self, quiet: float = 2.0, limit: float = 30.0, poll: float = 0.1) -> bool:
        """Block until no count changed for ``quiet`` seconds (True), or ``limit`` passed (False)."""
        deadline = time.monotonic() + limit
        last: tuple[Any, ...] | None = None
        since = time.monotonic()
        while time.monotonic() < deadline:
            # Senders genmon cannot pause (a timer, a task) may never go quiet: they are judged by
            # whether they are still moving (see _pipeline), not waited for here. Reading through
            # snapshot() keeps the settle tracker's clocks current for that judgement.
            reading = tuple(
                (p.name, p.counts.as_tuple(), tuple(ids.count for ids in p.damaged.values()))
                for p in self.snapshot().pipelines
                if p.kind not in ("sender", "topic")
            )
            now = time.monotonic()
            if reading != last:
                last, since = reading, now
            elif now - since >= quiet:
                return True
            time.sleep(poll)
        return False

    def wait_for(self, predicate: Callable[[Snapshot], bool], timeout: float) -> Snapshot:
        """Poll snapshots until ``predicate`` holds; return the last one either way."""
        deadline = time.monotonic() + timeout
        snap = self.snapshot()
        while not predicate(snap) and time.monotonic() < deadline:
            time.sleep(0.1)
            snap = self.snapshot()
        return snap


def _flow_order(pipes: tuple[PipelineSnapshot, ...]) -> tuple[PipelineSnapshot, ...]:
    """Rows so that a multi-hop flow reads top to bottom: a row whose sender is an agent comes
    after the rows that feed that agent (generators and tasks first, then each hop)."""
    feeds: dict[str, set[str]] = {}  # agent -> rows delivering to it
    for pipe in pipes:
        for agent in pipe.agents:
            feeds.setdefault(agent, set()).add(pipe.name)
    depth: dict[str, int] = {}

    def depth_of(pipe: PipelineSnapshot, seen: frozenset[str] = frozenset()) -> int:
        if pipe.name in depth:
            return depth[pipe.name]
        agent = pipe.name[:-2] if pipe.kind == "sender" and pipe.name.endswith("()") else None
        upstream = [p for p in pipes if agent and p.name in feeds.get(agent, ()) and p.name not in seen]
        value = 1 + max((depth_of(p, seen | {pipe.name}) for p in upstream), default=-1)
        depth[pipe.name] = value
        return value

    order = {pipe.name: index for index, pipe in enumerate(pipes)}
    return tuple(sorted(pipes, key=lambda p: (depth_of(p), order[p.name])))


def _counts(raw: RawSource) -> Counts:
    return Counts(raw.yielded, raw.sent, raw.acked, raw.received, raw.processed_total)


def _combined(all_stalls: Any) -> LoopStalls:
    count, longest, at, ongoing = 0, 0.0, None, 0.0
    for s in all_stalls:
        count += s.count
        ongoing = max(ongoing, s.ongoing)
        if s.longest > longest:
            longest, at = s.longest, s.longest_at
    return LoopStalls(count, longest, at, ongoing)
