"""One Faust app, instrumented, on its own event loop in its own thread.

Each app gets its own loop so that one app's blocking code or crash at start cannot stall or take
down another (the demo's catalogue runs one app per bug), and so a loop stall is attributed to the
pipelines of the app whose loop stalled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from genmon.model import AppReading, AppState, one_line
from genmon.model.text import root_error, wraps_nothing
from genmon.probe import GenmonSensor, Probe
from genmon.probe.loopwatch import LoopWatch
from genmon.probe.runtime import OWNER
from genmon.probe.touchpoints import agent_readers, agent_topics, crash_of

AppFactory = Callable[[], Any]


def offset_reset(app: Any) -> str:
    """Where the app's consumer starts on a partition its group has no committed offset for."""
    value = getattr(getattr(app, "conf", None), "consumer_auto_offset_reset", None)
    return str(value) if value else "earliest"


class AppRun:
    """Builds, starts, watches and stops one app. Thread-safe reads; commands via the loop.

    ``state`` and ``error`` change only through :meth:`_set` (under a lock), from the app's thread,
    or from another thread through :meth:`give_up` while the app is still starting.
    """

    def __init__(
        self,
        factory: AppFactory,
        probe: Probe,
        label: str = "app",
        delay: float = 0.0,
        before_start: Callable[[Any], Awaitable[Any]] | None = None,
    ) -> None:
        self._factory = factory
        self.delay = delay
        self._before_start = before_start
        """Awaited with the built app just before it starts (e.g. creating its topics)."""
        self.readers: dict[str, tuple[str, ...]] = {}
        self.declared: dict[str, int] = {}
        """topic -> partitions the app declares, for each topic an agent reads."""
        self.not_imported: tuple[str, ...] = ()
        """What the app's autodiscovery could not import (see :class:`genmon.host.loader.LoadedApp`)."""
        """topic -> the agents of this app that read it"""
        self.watch = LoopWatch()
        """Loop stalls and the consumer's assignment, measured on the app's loop."""
        self.probe = probe
        self.label = label
        self.app: Any = None
        self.app_id = label
        self.state = AppState.STARTING
        self.error: str | None = None
        self._state_lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._cancelled = threading.Event()
        self.ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"genmon-{label}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _set(self, state: AppState, error: str | None = None, *, only_from: AppState | None = None) -> bool:
        """Move to ``state`` (keeping the first error); ``only_from``: only if still in that state."""
        with self._state_lock:
            if only_from is not None and self.state != only_from:
                return False
            self.state = state
            self.error = self.error or error
            return True

    def give_up(self, reason: str) -> None:
        """The host stopped waiting for this app to start: it counts as crashed, unless it made it."""
        self._set(AppState.CRASHED, reason, only_from=AppState.STARTING)

    def alive(self) -> bool:
        """The app's thread still runs (after :meth:`stop`: its stop hung and was abandoned)."""
        return self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self.state == AppState.RUNNING

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the app and its loop (idempotent). A loop stalled by blocking code is abandoned."""
        self._cancelled.set()
        loop, stop = self.loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn`` on this app's loop (or here, if the loop is gone)."""
        loop = self.loop
        try:
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(fn, *args)
                return
        except RuntimeError:
            pass
        fn(*args)

    def crash_reason(self) -> str | None:
        """Why the app is not running, if it crashed (at start or later)."""
        if self.state == AppState.CRASHED:
            return self.error
        crash = crash_of(self.app)
        if crash is None:
            return None
        note = self.probe.crash_notes.get(self.label) if self.probe is not None else None
        if note is not None and wraps_nothing(crash):
            return f"{note} ({one_line(crash)})"  # mode gave up restarting the agent: say why it crashed
        return one_line(root_error(crash))

    def reading(self, now: float) -> AppReading:
        """This run as snapshot assembly needs it (any thread)."""
        crash = self.crash_reason()
        return AppReading(
            label=self.label,
            app_id=self.app_id,
            state=AppState.CRASHED if crash is not None else self.state,
            error=crash,
            readers=self.readers,
            assigned=self.watch.assigned,
            stalls=self.watch.current(now, self.state == AppState.RUNNING),
            positions=self.probe.positions.of(self.label),
            offset_reset=offset_reset(self.app),
            not_imported=self.not_imported,
            crashes=self.probe.crashes_of(self.label),
            windows=self.probe.windows_of(self.label),
            declared=self.declared,
        )

    # -- the app's thread ----------------------------------------------------------------
    def _run(self) -> None:
        if self.delay and self._cancelled.wait(self.delay):
            self._set(AppState.STOPPED)
            self.ready.set()
            return
        OWNER.set(self.label)  # the loop's tasks inherit it: what they declare or send is this app's
        loop = asyncio.new_event_loop()
        self.loop = loop
        asyncio.set_event_loop(loop)
        loop.set_exception_handler(_log_loop_exception)
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # never let an app's thread print a traceback
            self._set(AppState.CRASHED, one_line(exc))
        finally:
            self.ready.set()
            with contextlib.suppress(Exception):
                _cancel_all(loop)
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def _build(self) -> Any:
        app = self._factory()
        self.probe.adopt(self.label)  # generators declared at import, before any run, are this app's
        return app

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        try:
            app = self.app = self._build()
            self.app_id = app.conf.id
            app.sensors.add(GenmonSensor(self.probe))
            if self._before_start is not None:
                await self._before_start(app)
            await app.start()
        except BaseException as exc:
            self._set(AppState.CRASHED, one_line(exc))
            self.ready.set()
            if self.app is not None:
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(self.app.stop(), 10)
            return
        self.readers = agent_readers(app)
        self.declared = agent_topics(app)
        self._set(AppState.RUNNING)  # also after a give_up: it did start, late
        self.ready.set()
        heartbeat = asyncio.ensure_future(self.watch.run(app))
        await self._stop.wait()
        heartbeat.cancel()
        self._set(AppState.STOPPING)
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(app.stop(), 10)
        self._set(AppState.STOPPED)

    def reset_stalls(self) -> None:
        self.watch.reset()


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


def _log_loop_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    exc = context.get("exception")
    logging.getLogger("genmon.loop").error(
        "%s%s", context.get("message", "loop error"), f": {one_line(exc)}" if exc else ""
    )
