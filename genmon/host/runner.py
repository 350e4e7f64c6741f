"""The host: one Faust app, instrumented, on its own event loop in its own thread.

The screen never shares a loop with Faust (DESIGN rule 1): a generator that blocks stalls Faust's
loop, and the host still answers ``snapshot()`` because snapshots read the probe's counters
directly (they are only ever grown on the Faust thread; reads take later stages first).
Commands are posted to the Faust loop with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

from genmon.broker import BrokerAddress
from genmon.host.settle import SettleTracker
from genmon.model import BrokerInfo, Counts, LoopStalls, MissingIds, PipelineSnapshot, Snapshot
from genmon.probe import GenmonSensor, Probe
from genmon.probe.runtime import STALL_SECONDS
from genmon.probe.source import RawSource

AppFactory = Callable[[], Any]
BROKER_POLL_SECONDS = 2.0
HEARTBEAT_SECONDS = 0.05


class HostError(Exception):
    """The app could not be started; the message is one line, fit for the terminal."""


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    detail = text[0] if text else ""
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


class Host:
    """Owns the Faust thread; every public method is safe to call from any other thread."""

    def __init__(
        self,
        factory: AppFactory,
        *,
        broker: BrokerAddress,
        embedded: bool,
        broker_alive: Callable[[], bool] | None = None,
        settle_seconds: float = 5.0,
        log_path: str | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        self._factory = factory
        self._broker = broker
        self._embedded = embedded
        self._broker_alive = broker_alive
        self._broker_reachable = True
        self.settle_seconds = settle_seconds
        self.log_path = log_path
        self.start_timeout = start_timeout
        self.probe = Probe()
        self.app: Any = None
        self.app_id = "?"
        self.state = "starting"
        self.error: str | None = None
        self._settle = SettleTracker(settle_seconds)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="genmon-faust", daemon=True)
        self._started_at = time.monotonic()
        self._last_beat: float | None = None
        self._stalls = LoopStalls()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Host:
        """Start the app and return once it is running; raise :class:`HostError` if it cannot."""
        self._thread.start()
        if not self._ready.wait(self.start_timeout):
            self.error = f"the Faust app did not start within {self.start_timeout:.0f}s"
            self.stop()
            raise HostError(self.error)
        if self.state != "running":
            self.stop()
            raise HostError(self.error or "the Faust app did not start")
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the app and its loop (idempotent). A loop stalled by blocking code is abandoned."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        self.probe.uninstall()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        loop.set_exception_handler(_log_loop_exception)
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # never let the Faust thread print a traceback
            self.error = self.error or one_line(exc)
            self.state = "crashed"
        finally:
            self._ready.set()
            with contextlib.suppress(Exception):
                _cancel_all(loop)
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        self.probe.install()
        try:
            app = self.app = self._factory()
            self.app_id = app.conf.id
            app.sensors.add(GenmonSensor(self.probe))
            await app.start()
        except BaseException as exc:
            self.error = one_line(exc)
            self.state = "crashed"
            self._ready.set()
            if self.app is not None:
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(self.app.stop(), 10)
            return
        self.state = "running"
        self._ready.set()
        watchers = [asyncio.ensure_future(self._watch_broker()), asyncio.ensure_future(self._heartbeat())]
        await self._stop.wait()
        for watcher in watchers:
            watcher.cancel()
        self.state = "stopping"
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(app.stop(), 10)
        self.state = "stopped"

    async def _watch_broker(self) -> None:
        """Keep the header's up/down honest for an external broker (embedded: the process)."""
        while True:
            try:
                _, writer = await asyncio.wait_for(
                    asyncio.open_connection(self._broker.host, self._broker.port), 1.0
                )
                writer.close()
                self._broker_reachable = True
            except (OSError, asyncio.TimeoutError):
                self._broker_reachable = False
            await asyncio.sleep(BROKER_POLL_SECONDS)

    async def _heartbeat(self) -> None:
        """Measure how late the Faust loop runs a periodic callback: blocking code shows as lateness."""
        while True:
            before = time.monotonic()
            self._last_beat = before
            await asyncio.sleep(HEARTBEAT_SECONDS)
            late = time.monotonic() - before - HEARTBEAT_SECONDS
            if late >= STALL_SECONDS:
                s = self._stalls
                longest, at = s.longest, s.longest_at
                if late > longest:
                    longest, at = late, time.strftime("%H:%M:%S", time.localtime(before))
                self._stalls = LoopStalls(s.count + 1, longest, at)

    # -- commands --------------------------------------------------------------------------
    def _post(self, fn: Callable[..., Any], *args: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            fn(*args)
            return
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:
            fn(*args)

    def set_generator(self, name: str, on: bool) -> None:
        if name not in self.probe.sources:
            raise KeyError(name)
        # The switch is a plain bool read by the wrapper; set it at once so the next value obeys.
        self.probe.set_on([name], on)

    def set_all(self, on: bool) -> None:
        self.probe.set_on(None, on)

    def reset(self) -> None:
        """Zero every count; runs on the Faust loop so no hook sees half a reset."""

        def _reset() -> None:
            self.probe.reset()
            self._stalls = LoopStalls()
            with self._lock:
                self._settle.forget()

        self._post(_reset)

    def generator_names(self) -> list[str]:
        return list(self.probe.sources)

    # -- reading ---------------------------------------------------------------------------
    def broker_up(self) -> bool:
        if self._broker_alive is not None:
            return self._broker_alive()
        return self._broker_reachable

    def snapshot(self, final: bool = False) -> Snapshot:
        """One reading of every pipeline. ``final``: the run has settled, shortfalls are losses."""
        raws = self.probe.read()
        now = time.monotonic()
        with self._lock:
            pipes = []
            for raw in raws:
                counts = _counts(raw)
                self._settle.observe(raw.name, counts, now)
                verdict = self._settle.verdict(raw.name, counts, raw.on, now, final)
                pipes.append(
                    PipelineSnapshot(
                        name=raw.name,
                        generator=raw.function,
                        kind=raw.kind,
                        on=raw.on,
                        counts=counts,
                        verdict=verdict,
                        send_failed=raw.send_failed,
                        topics=raw.topics,
                        agents=raw.agents,
                        processed_by=raw.processed,
                        duplicates=raw.duplicates,
                        stalls=raw.stalls,
                        longest_stall=raw.longest_stall,
                        missing={
                            stage: MissingIds(count, runs, more)
                            for stage, (count, runs, more) in raw.missing.items()
                        },
                    )
                )
        app = self.app
        state, error = self.state, self.error
        if state == "running" and app is not None and getattr(app, "crashed", False):
            state = "crashed"
            reason = getattr(app, "crash_reason", None)
            error = one_line(reason) if reason is not None else "the Faust app crashed"
        stalls = self._stalls
        if self._last_beat is not None and state == "running":
            ongoing = now - self._last_beat - HEARTBEAT_SECONDS
            if ongoing >= STALL_SECONDS:  # stalled right now: the loop has not come back yet
                stalls = LoopStalls(stalls.count, stalls.longest, stalls.longest_at, ongoing)
        return Snapshot(
            app_id=self.app_id,
            broker=BrokerInfo(self._broker.url, self._embedded, self.broker_up()),
            app_state=state,
            pipelines=tuple(pipes),
            error=error,
            log_path=self.log_path,
            settle_seconds=self.settle_seconds,
            uptime=now - self._started_at,
            stalls=stalls,
        )

    def wait_settled(self, quiet: float = 2.0, limit: float = 30.0, poll: float = 0.1) -> bool:
        """Block until no count changed for ``quiet`` seconds (True), or ``limit`` passed (False)."""
        deadline = time.monotonic() + limit
        last: tuple[Any, ...] | None = None
        since = time.monotonic()
        while time.monotonic() < deadline:
            reading = tuple((raw.name, _counts(raw).as_tuple(), raw.send_failed) for raw in self.probe.read())
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


def _counts(raw: RawSource) -> Counts:
    processed = min(raw.processed.values()) if raw.processed else 0
    return Counts(raw.yielded, raw.sent, raw.acked, raw.received, processed)


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


def _log_loop_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    import logging

    exc = context.get("exception")
    logging.getLogger("genmon.loop").error(
        "%s%s", context.get("message", "loop error"), f": {one_line(exc)}" if exc else ""
    )
