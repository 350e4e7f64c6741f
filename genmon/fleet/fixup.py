"""genmon's probe in any ``faust worker``, with no change to the app: a Faust *fixup*.

Faust builds the plug-ins of the ``faust.fixups`` entry-point group in every ``App.__init__`` and
keeps those whose ``enabled()`` is true; ``faust worker`` (and ``app.main()``) then call their
``on_worker_init()``. genmon's is enabled only when ``GENMON_BROKER`` is set — to a broker URL, or to
``app`` for the app's own broker — so installing genmon changes nothing for an app that does not ask.
genmon's clients authenticate with the app's own credentials, or with the Kafka client properties of
``GENMON_KAFKA_CONFIG`` (a file) and ``GENMON_KAFKA_PROPERTIES`` (``KEY=VALUE`` lines).

When enabled it attaches once per app (the Faust CLI calls ``on_worker_init`` twice), adds genmon's
sensor with ``app.sensors.add`` (``app.monitor`` stays Faust's: its Prometheus or OpenTelemetry
monitors use it), and starts a :class:`~genmon.fleet.publisher.Publisher`, which reads the control
topic to its end before the app starts (a worker started while a generator is switched off starts
it off). At exit the final report goes out; the publisher's clients are its own, so a stop never
waits on, or breaks, the app's producer.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import time
from typing import Any

ENV = "GENMON_BROKER"
log = logging.getLogger("genmon.fixup")
_attached: dict[int, Attached] = {}


def _probe() -> Any:
    """The process's probe, installed on first use (before the app's generators are defined)."""
    from genmon.probe import Probe
    from genmon.probe.runtime import active_probe

    probe = active_probe()
    if probe is None:
        probe = Probe()
        probe.install()
    return probe


class Fixup:
    """The entry point (``faust.fixups``: ``genmon = genmon.fleet.fixup:Fixup``)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def enabled(self) -> bool:
        if not os.environ.get(ENV):
            return False
        with contextlib.suppress(Exception):
            _probe()  # now, in App.__init__: @genmon.track below the app's definition declares at once
        return True

    def autodiscover_modules(self) -> list[str]:
        return []

    def on_worker_init(self) -> None:
        try:
            attach(self.app)
        except Exception as exc:  # genmon must never stop the user's worker from starting
            if "Authorization" in str(exc):
                log.warning(
                    "genmon could not attach: the broker denied genmon's topics to this worker's user (%s); "
                    "grant it Describe and Write on genmon-reports, Describe and Read on genmon-control "
                    "(genmon's docs/FLEET.md, ACLs). The app runs without genmon.",
                    exc,
                )
                return
            log.warning("genmon could not attach: %s", exc)


def attach(app: Any, broker: str | None = None) -> Attached:
    """Attach genmon to ``app`` (idempotent) and start reporting to ``broker`` (default: ``$GENMON_BROKER``;
    ``app``: the app's own broker)."""
    known = _attached.get(id(app))
    if known is not None:
        return known
    url = broker or os.environ.get(ENV) or "app"
    if url == "app":
        url = ";".join(str(u) for u in app.conf.broker)  # every bootstrap server the app names
    attached = _attached[id(app)] = Attached(app, url)
    attached.start()
    return attached


def _security(app: Any) -> Any:
    """How the publisher connects: ``$GENMON_KAFKA_CONFIG``/``$GENMON_KAFKA_PROPERTIES`` where set,
    else the app's own credentials (its ``broker_credentials`` and ``ssl_context``, live)."""
    from genmon.broker.security import from_environment
    from genmon.host.credentials import app_security

    return from_environment() or app_security(app)


WORKER_LOGGER = "faust.worker"
"""The logger of ``faust.worker.Worker`` (its module's): where it says why it gave up."""


class _WorkerErrors(logging.Handler):
    """Keeps the exception the ``faust worker`` gave up on (see ``worker_gave_up``)."""

    def __init__(self, attached: Attached) -> None:
        super().__init__(logging.ERROR)
        self.attached = attached

    def emit(self, record: logging.LogRecord) -> None:
        from genmon.probe.touchpoints import worker_gave_up

        with contextlib.suppress(Exception):
            exc = worker_gave_up(record)
            if exc is not None and self.attached.worker_error is None:
                self.attached.worker_error = exc


class Attached:
    """One app of a ``faust worker`` process, reported like genmon's own workers report theirs."""

    def __init__(self, app: Any, url: str) -> None:
        from genmon.broker import parse_broker_url
        from genmon.fleet.publisher import Publisher
        from genmon.probe.loopwatch import LoopWatch
        from genmon.probe.switches import Switchboard

        self.app = app
        self.probe = _probe()
        self.switches = Switchboard(lambda _src: self.app.conf.id)
        self.watch = LoopWatch()
        self.started_wall = time.time()
        self.count = 0
        self._heartbeat: Any = None
        self.publisher = Publisher(parse_broker_url(url).secured(_security(app)), self.report, self.control)
        self.worker_error: BaseException | None = None
        """Why the ``faust worker`` gave up (its start raised: a web port in use, a bad setting):
        the app never ran, and that is its error."""
        self._errors = _WorkerErrors(self)
        # on the worker's own logger: the worker's logging set-up replaces the root logger's handlers
        logging.getLogger(WORKER_LOGGER).addHandler(self._errors)

    def start(self) -> None:
        from genmon.probe import GenmonSensor

        self.app.sensors.add(GenmonSensor(self.probe))
        self.probe.on_declare = self.switches.obey
        self.publisher.start()
        for src in list(self.probe.sources.values()):
            self.switches.obey(src)
        atexit.register(self.stop)

    def stop(self) -> None:
        """The final report (at exit: the app has stopped by then)."""
        self.publisher.stop()
        logging.getLogger(WORKER_LOGGER).removeHandler(self._errors)

    def control(self, record: Any) -> None:
        from genmon.model.control_record import RESET

        if record.app_id != self.app.conf.id:
            return
        if record.name == RESET:
            if record.stamp / 1e9 >= self.started_wall:
                with contextlib.suppress(RuntimeError):  # on the app's loop: never between two hooks
                    self.app.loop.call_soon_threadsafe(self._reset)
            return
        if self.switches.want(record):
            for src in list(self.probe.sources.values()):
                self.switches.obey(src)

    def _reset(self) -> None:
        for src in [*self.probe.sources.values(), *self.probe.foreign.values()]:
            src.reset()
        self.probe.reset_inbound()
        self.watch.reset()

    def _state(self, final: bool) -> tuple[Any, str | None]:
        from genmon.model import AppState, one_line
        from genmon.probe.touchpoints import crash_of

        crash = crash_of(self.app) or self.worker_error
        if crash is not None:
            return AppState.CRASHED, one_line(crash)
        if final:
            return AppState.STOPPED, None
        if getattr(self.app, "should_stop", False):
            return AppState.STOPPING, None
        if getattr(self.app, "started", False):
            return AppState.RUNNING, None
        return AppState.STARTING, None

    def report(self, final: bool, latency: bool = True) -> Any:
        import asyncio

        from genmon.host.apprun import offset_reset
        from genmon.model import AppReading, AppState
        from genmon.probe.identity import worker_report
        from genmon.probe.touchpoints import agent_readers, agent_topics

        now = time.monotonic()
        state, error = self._state(final)
        if state == AppState.RUNNING and self._heartbeat is None:
            with contextlib.suppress(Exception):
                self._heartbeat = asyncio.run_coroutine_threadsafe(self.watch.run(self.app), self.app.loop)
        self.count += 1
        app = AppReading(
            label="app0",
            app_id=self.app.conf.id,
            state=state,
            error=error,
            readers=agent_readers(self.app) if state == AppState.RUNNING else {},
            assigned=self.watch.assigned,
            stalls=self.watch.current(now, state == AppState.RUNNING),
            positions=self.probe.positions.of(None),
            offset_reset=offset_reset(self.app),
            crashes=self.probe.crashes_of(None),
            windows=self.probe.windows_of(None),
            declared=agent_topics(self.app) if state == AppState.RUNNING else {},
        )
        return worker_report(
            self.probe.token,
            self.started_wall,
            self.count,
            apps=(app,),
            sources=self.probe.read_sources(latency),
            inbound=self.probe.read_inbound(),
            consumed=tuple(self.probe.consumed),
            final=final,
            interval=self.publisher.heartbeat,
            control=self.publisher.control_applied,
        )
