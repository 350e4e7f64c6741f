"""The host: runs instrumented Faust apps, each on its own event loop in its own thread, and carries
the screen's commands to them.

It does two things only: run apps (start, watch, stop) and carry commands (switch, reset). What the
user sees is built elsewhere, by the pure :func:`genmon.model.build` from :meth:`Host.read`, with the
:class:`~genmon.watch.sampler.Sampler`'s clocks. The screen never shares a loop with Faust: a
generator that blocks Faust's loop stalls that app, and the host still answers, because readings
copy the probe's id sets directly (they only ever grow on the Faust threads; later stages are copied
first). Commands that must not race a hook (reset) are posted to the apps' loops.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from genmon.broker import BrokerAddress
from genmon.broker.health import BrokerHealth
from genmon.host.apprun import AppFactory, AppRun
from genmon.host.errors import HostError
from genmon.host.topics import create_missing_topics
from genmon.model import Reading
from genmon.model.control import NotSwitchable, UnknownPipeline
from genmon.model.control_record import RESET, ControlRecord
from genmon.model.merge import Fleet
from genmon.model.wire import WorkerReport
from genmon.probe import Probe
from genmon.probe.identity import worker_report
from genmon.probe.switches import Switchboard
from genmon.probe.touchpoints import load_fixups
from genmon.watch.offsets import OffsetWatcher
from genmon.watch.readout import Readout
from genmon.watch.sampler import Sampler

__all__ = ["Host", "HostError"]


class Host(Readout):
    """Owns the Faust threads; every public method is safe to call from any other thread.

    Implements :class:`genmon.model.Monitor`, the protocol the screen is written against.
    """

    def __init__(
        self,
        factory: AppFactory | None = None,
        *,
        factories: Sequence[AppFactory | tuple[AppFactory, float]] = (),
        broker: BrokerAddress,
        embedded: bool,
        broker_alive: Callable[[], bool] | None = None,
        broker_pid: Callable[[], int | None] | None = None,
        settle_seconds: float = 5.0,
        log_path: str | None = None,
        start_timeout: float = 60.0,
        probe: Probe | None = None,
        listening_rows: bool = False,
        create_topics: bool = False,
        watching: bool = True,
        feeds: Sequence[Any] = (),
    ) -> None:
        """``create_topics``: create the topics the apps' agents read, if missing, before they start
        (see :mod:`genmon.host.topics`): always for the embedded broker, on request for a user's."""
        plans = [(f, 0.0) if callable(f) else f for f in ([factory] if factory else []) + list(factories)]
        if not plans:
            raise ValueError("Host needs at least one app factory")
        self.probe = probe or Probe()
        self.feeds = tuple(feeds)
        """``--feed``s (genmon.model.feed.Feed), produced into the first app once it runs."""
        self.listening_rows = listening_rows
        self._create_topics = create_topics
        self.watching = watching
        """Run the sampler and the broker-truth poller here (False in a worker: its watcher does)."""
        self.runs = [
            AppRun(f, self.probe, f"app{i}", delay, functools.partial(self._before_start, f"app{i}"))
            for i, (f, delay) in enumerate(plans)
        ]
        self.control_since = 0
        """Control records stamped before this (ns) are ignored: genmon's own sessions start their
        generators on, whatever an earlier session of the same app left on the control topic."""
        self.switches = Switchboard(self._app_id_of)
        """The fleet's switches (the control topic), obeyed by this process's generators."""
        self.probe.on_declare = self.switches.obey
        self.gate: Callable[[], None] | None = None
        """Called (off the app's loop) just before each app starts: a worker waits there until the
        fleet's switches are read, so a generator switched off fleet-wide starts off."""
        self._broker = broker
        self._embedded = embedded
        self.health = BrokerHealth(broker, embedded=embedded, alive=broker_alive, pid=broker_pid)
        """Whether the broker answers requests, its outages, the embedded one's memory."""
        self.settle_seconds = settle_seconds
        self.log_path = log_path
        self.start_timeout = start_timeout
        self.started_at = time.monotonic()
        self._started_wall = time.time()
        self._reports = 0
        self.fleet = Fleet()
        """This process's reports, merged exactly like a fleet's (one worker): one path to a Reading."""
        self.report_interval = 1.0
        """How often a publisher sends this host's report at the latest (see genmon.fleet)."""
        self.control_applied = 0
        self._stopping = threading.Event()
        self.offsets = OffsetWatcher(broker, self._topics_to_watch)
        self.sampler = Sampler(self.read, settle_seconds)

    @property
    def broker_url(self) -> str:
        return self._broker.url

    @property
    def broker(self) -> BrokerAddress:
        """Where the apps run and how genmon's clients connect there."""
        return self._broker

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Host:
        """Start every app; return once each is running or has failed.

        Raises :class:`HostError` when no app could start (with the first app's one-line reason).
        An app that fails while others run is shown as crashed on its pipelines' rows instead.
        """
        self.probe.install()
        load_fixups()  # before the apps are built, each on its own thread
        for run in self.runs:
            run.start()
        deadline = time.monotonic() + self.start_timeout
        for run in self.runs:
            if run.delay:
                continue  # started later on purpose (e.g. a consumer that joins late)
            if not run.ready.wait(max(deadline - time.monotonic(), 0.0)):
                run.give_up(f"the Faust app did not start within {self.start_timeout:.0f}s")
        if not any(run.running for run in self.runs):
            error = next((run.crash_reason() for run in self.runs if run.crash_reason()), None)
            self.stop()
            raise HostError(error or "the Faust app did not start")
        self._start_feeds()
        if not self.watching:
            return self  # a worker: its watcher (another process) samples, polls and judges
        self.offsets.start()
        self.sampler.start()
        self.health.start()
        return self

    def stop(self, timeout: float = 15.0) -> list[str]:
        """Stop every app (idempotent). Apps stop in parallel; a stalled loop or a hung stop is
        abandoned after ``timeout``: returns the ids of the apps that had not stopped by then."""
        self._stopping.set()
        self.health.stop()
        self.sampler.stop()
        self.offsets.stop()
        stoppers = [threading.Thread(target=run.stop, args=(timeout,), daemon=True) for run in self.runs]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join(timeout + 1)
        self.probe.uninstall()
        return [run.app_id for run in self.runs if run.alive()]

    def _start_feeds(self) -> None:
        """Each feed, on the first app's loop, once that app runs (its agents are subscribed)."""
        run = self.runs[0]
        if not self.feeds or not run.running:
            return
        from genmon.host import feeding

        loop = run.loop
        assert loop is not None
        for feed in self.feeds:
            run.post(lambda feed=feed: loop.create_task(feeding.run(run.app, feed, run.label)))

    def _topics_to_watch(self) -> dict[str, str | None]:
        """Every topic a source sent to, with the group of the app whose agents read it."""
        readers = {topic: run.app_id for run in self.runs for topic in run.readers}
        if len(self.runs) == 1:  # a topic read by a stream, not an agent (a group_by repartition)
            readers.update({topic: self.runs[0].app_id for topic in list(self.probe.consumed)})
        sources = list(self.probe.sources.values())
        sent = {topic: readers.get(topic) for src in sources for topic in src.topics}
        return {**readers, **sent}  # every topic an agent reads too: others' records, by offsets

    async def _before_start(self, label: str, app: Any) -> None:
        """Just before an app starts: its generators obey the switches, its topics exist."""
        if self.gate is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.gate)
        for src in list(self.probe.sources.values()):
            if src.owner == label:
                self.switches.obey(src)
        if self._create_topics:
            await create_missing_topics(app, self._broker)

    # -- the control topic (genmon.fleet) -----------------------------------------------------------
    def apply_control(self, record: ControlRecord) -> None:
        """A desired state from the control topic: a switch, kept for generators that appear later,
        or a reset made while this worker ran."""
        if record.stamp < self.control_since:
            return  # another session's switch: this one started with its generators on
        self.control_applied += 1
        if record.name == RESET:
            if record.stamp / 1e9 >= self._started_wall:
                self.reset()
            return
        if self.switches.want(record):
            for src in list(self.probe.sources.values()):
                self.switches.obey(src)

    def _app_id_of(self, src: Any) -> str | None:
        return next((run.app_id for run in self.runs if run.label == src.owner), None)

    # -- commands (genmon.model.Monitor) -----------------------------------------------------
    def set_generator(self, name: str, on: bool) -> None:
        """Switch a tracked generator; :class:`~genmon.model.Refused` says why a row cannot be."""
        src = self.probe.sources.get(name)
        if src is None:
            if any(name in run.readers for run in self.runs):
                raise NotSwitchable(f"{name} is a topic, not a tracked generator")
            raise UnknownPipeline(f"no pipeline named {name!r}")
        if not src.kind.switchable:
            raise NotSwitchable(
                f"{name} is not a tracked generator; wrap its values with @genmon.track to switch it"
            )
        # The switch is a plain bool read by the wrapper; set it at once so the next value obeys.
        self.probe.set_on([name], on)
        self.sampler.stale()

    def set_all(self, on: bool) -> None:
        self.probe.set_on(None, on)
        self.sampler.stale()

    def reset(self) -> None:
        """Zero every count; each app's sources are reset on its own loop, so no hook sees half."""
        by_run: dict[str, list[str]] = {run.label: [] for run in self.runs}
        first = self.runs[0].label
        for name, src in list(self.probe.sources.items()):
            by_run.get(src.owner or first, by_run[first]).append(name)
        foreign: dict[str, list[bytes]] = {run.label: [] for run in self.runs}
        for key, src in list(self.probe.foreign.items()):
            foreign.get(src.owner or first, foreign[first]).append(key)
        self.fleet.reset()
        for run in self.runs:
            run.post(self._reset_sources, by_run[run.label], foreign[run.label], run)
        self.probe.reset_inbound()

    def _reset_sources(self, names: list[str], foreign: list[bytes], run: AppRun) -> None:
        for name in names:
            self.probe.sources[name].reset()
        for key in foreign:
            self.probe.foreign[key].reset()
        run.reset_stalls()
        self.sampler.forget(set(names))

    # -- reading (genmon.model.Monitor) ------------------------------------------------------
    def report(self, final: bool = False, latency: bool = True) -> WorkerReport:
        """What this process knows now, as it travels to a watcher (:mod:`genmon.model.wire`);
        ``latency=False``: the latency histograms as last encoded (see ``Source.read``)."""
        now = time.monotonic()
        self._reports += 1
        return worker_report(
            self.probe.token,
            self._started_wall,
            self._reports,
            apps=tuple(run.reading(now) for run in self.runs),
            sources=self.probe.read_sources(latency),
            inbound=self.probe.read_inbound(),
            consumed=tuple(self.probe.consumed),
            final=final,
            interval=self.report_interval,
            control=self.control_applied,
        )

    def read(self) -> Reading:
        """What every app and the probe know now, merged as a fleet's would be (one worker):
        the input of :func:`genmon.model.build`."""
        self.fleet.add(self.report(), time.monotonic())
        return self.merged()
