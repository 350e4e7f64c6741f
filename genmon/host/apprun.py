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
import time
from collections.abc import Callable
from typing import Any

from genmon.model import LoopStalls
from genmon.probe import GenmonSensor, Probe
from genmon.probe.runtime import STALL_SECONDS

AppFactory = Callable[[], Any]
HEARTBEAT_SECONDS = 0.05
_build_lock = threading.Lock()
"""App factories run one at a time, so the generators each declares are known to be its own."""


def one_line(exc: BaseException) -> str:
    """``TypeError: message`` on one line: how genmon reports an app's exception."""
    text = str(exc).strip().splitlines()
    detail = text[0] if text else ""
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


class AppRun:
    """Builds, starts, watches and stops one app. Thread-safe reads; commands via the loop."""

    def __init__(self, factory: AppFactory, probe: Probe, label: str = "app", delay: float = 0.0) -> None:
        self._factory = factory
        self.delay = delay
        self.consumed: tuple[str, ...] = ()
        self.readers: dict[str, tuple[str, ...]] = {}
        """topic -> the agents of this app that read it"""
        self.probe = probe
        self.label = label
        self.app: Any = None
        self.app_id = label
        self.state = "starting"
        self.error: str | None = None
        self.pipelines: tuple[str, ...] = ()
        self.stalls = LoopStalls()
        self._last_beat: float | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._cancelled = threading.Event()
        self.ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"genmon-{label}", daemon=True)

    def start(self) -> None:
        self._thread.start()

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

    def current_stalls(self, now: float) -> LoopStalls:
        """The stalls so far, plus the one in progress if the loop has not come back yet."""
        stalls, beat = self.stalls, self._last_beat
        if beat is not None and self.state == "running":
            ongoing = now - beat - HEARTBEAT_SECONDS
            if ongoing >= STALL_SECONDS:
                return LoopStalls(stalls.count, stalls.longest, stalls.longest_at, ongoing)
        return stalls

    def crash_reason(self) -> str | None:
        """Why the app is not running, if it crashed (at start or later)."""
        if self.state == "crashed":
            return self.error
        app = self.app
        if app is not None and getattr(app, "crashed", False):
            reason = getattr(app, "crash_reason", None)
            return one_line(reason) if reason is not None else "the Faust app crashed"
        return None

    # -- the app's thread ----------------------------------------------------------------
    def _run(self) -> None:
        if self.delay and self._cancelled.wait(self.delay):
            self.state = "stopped"
            self.ready.set()
            return
        loop = asyncio.new_event_loop()
        self.loop = loop
        asyncio.set_event_loop(loop)
        loop.set_exception_handler(_log_loop_exception)
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # never let an app's thread print a traceback
            self.error = self.error or one_line(exc)
            self.state = "crashed"
        finally:
            self.ready.set()
            with contextlib.suppress(Exception):
                _cancel_all(loop)
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def _build(self) -> Any:
        with _build_lock:
            before = set(self.probe.sources)
            app = self._factory()
            self.pipelines = tuple(name for name in self.probe.sources if name not in before)
        return app

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        try:
            app = self.app = self._build()
            self.app_id = app.conf.id
            app.sensors.add(GenmonSensor(self.probe))
            await app.start()
        except BaseException as exc:
            self.error = one_line(exc)
            self.state = "crashed"
            self.ready.set()
            if self.app is not None:
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(self.app.stop(), 10)
            return
        self.readers = _readers(app)
        self.consumed = tuple(self.readers)
        self.state = "running"
        self.ready.set()
        heartbeat = asyncio.ensure_future(self._heartbeat())
        await self._stop.wait()
        heartbeat.cancel()
        self.state = "stopping"
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(app.stop(), 10)
        self.state = "stopped"

    async def _heartbeat(self) -> None:
        """Measure how late the loop runs a periodic callback: blocking code shows as lateness."""
        while True:
            before = time.monotonic()
            self._last_beat = before
            await asyncio.sleep(HEARTBEAT_SECONDS)
            late = time.monotonic() - before - HEARTBEAT_SECONDS
            if late >= STALL_SECONDS:
                s = self.stalls
                longest, at = s.longest, s.longest_at
                if late > longest:
                    longest, at = late, time.strftime("%H:%M:%S", time.localtime(before))
                self.stalls = LoopStalls(s.count + 1, longest, at)

    def reset_stalls(self) -> None:
        self.stalls = LoopStalls()


def _readers(app: Any) -> dict[str, tuple[str, ...]]:
    """topic -> agents reading it (an agent with no topic reads an in-memory channel: left out)."""
    readers: dict[str, list[str]] = {}
    with contextlib.suppress(Exception):
        for agent in app.agents.values():
            for topic in getattr(agent.channel, "topics", ()) or ():
                readers.setdefault(topic, []).append(agent.name.rsplit(".", 1)[-1])
    return {topic: tuple(names) for topic, names in readers.items()}


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
