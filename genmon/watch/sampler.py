"""The settle clocks' one driver: a thread that samples the probes at a steady pace.

Verdicts depend on how long each stage has been still (see :mod:`genmon.model.settle`). If every
reader advanced the clocks, the verdict's timing would depend on who polls and how often; here one
sampler advances them every ``SAMPLE_SECONDS`` and readers only *use* them (``build`` returns
advanced clocks that a reader throws away).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from genmon.model import Clocks, Reading, Snapshot, build

SAMPLE_SECONDS = 0.2
QUIET_SAMPLE_SECONDS = 1.0
"""With a ``changed`` token that did not change, a sample is still taken this often: the settle
clocks and the ages on screen move with time alone."""
STOP_WAIT_SECONDS = 5.0
"""How long stopping waits for a sample under way (a reading of a big fleet takes ~0.1 s)."""
SAMPLE_BUDGET = 0.04
"""The share of one core the sampler may take: a snapshot that took 35 ms to build (200 busy rows
from a fleet) is followed by a 0.84 s pause rather than 0.2 s; apps of a few dozen rows (a few ms a
snapshot) never reach it. The screen's whole process is meant to stay within 15 % of a core, and
every snapshot also costs the screen's thread its redraw."""


class Sampler:
    """Owns the :class:`Clocks`; ``snapshot()`` is safe from any thread."""

    def __init__(
        self,
        read: Callable[[], Reading],
        settle_seconds: float,
        every: float = SAMPLE_SECONDS,
        changed: Callable[[], object] | None = None,
    ) -> None:
        """``changed``: a token of everything a reading depends on besides the time (a watcher's
        merged reports, the broker's state, the offsets). While it stays the same, samples are
        taken every ``QUIET_SAMPLE_SECONDS`` instead of every ``every``: a watcher's readings only
        change when a report arrives (twice a second per worker), and building a snapshot of
        hundreds of rows five times a second for nothing was a third of the screen process's CPU."""
        self._read = read
        self._every = every
        self._changed = changed
        self._token: object = None
        self._sampled_at = 0.0
        self._clocks = Clocks(settle_seconds)
        self._last: Snapshot | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="genmon-sampler", daemon=True)
        self.recorder: Any = None
        """Told every reading and how its snapshot was judged (``--record``: genmon.watch.recorder)."""

    def start(self) -> None:
        self.sample()
        self._thread.start()

    def stop(self) -> None:
        """No sample after this returns (one under way is waited for): a run's judged snapshot is
        then the last reading its recording holds, and its replay ends on it."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(STOP_WAIT_SECONDS)

    def sample(self) -> None:
        """Advance the clocks to now (the sampler's thread, or a test that needs it at once)."""
        reading = self._read()
        with self._lock:
            snap, self._clocks = build(reading, self._clocks)
            self._last = snap
            if self.recorder is not None:
                self.recorder.sample(reading, "advance")

    def stale(self) -> None:
        """A command changed what a snapshot shows: the next one is built afresh, not reused."""
        with self._lock:
            self._last = None
            self._token = None  # and the next tick samples again

    def forget(self, names: set[str]) -> None:
        """Rows that were reset start their clocks afresh."""
        with self._lock:
            self._clocks = self._clocks.forget(names)
            self._last = None
            self._token = None

    def snapshot(self, fresh: bool = False) -> Snapshot:
        """The sampler's latest snapshot (at most one sampling period old: a screen polling as often
        as the sampler samples then costs no second build), or — when ``fresh``, after a command, or
        before the first sample — one of a fresh reading, judged with the sampler's clocks."""
        with self._lock:
            last = self._last
        if last is not None and not fresh:
            return last
        reading = self._read()
        with self._lock:
            clocks = self._clocks
            if self.recorder is not None:
                self.recorder.sample(reading, "peek")
        snap, _ = build(reading, clocks)
        return snap

    def snapshot_over(self) -> Snapshot:
        """A snapshot of a fresh reading for a run that is over and cannot move any more (its
        broker is gone): every shortfall is judged now, with no settle time left to wait."""
        reading = self._read()
        with self._lock:
            clocks = replace(self._clocks, settle_seconds=0.0)
            if self.recorder is not None:
                self.recorder.sample(reading, "over")
        snap, _ = build(reading, clocks)
        return snap

    def _due(self) -> bool:
        if self._changed is None:
            return True
        token, now = self._changed(), time.monotonic()
        if token == self._token and now - self._sampled_at < QUIET_SAMPLE_SECONDS:
            return False
        self._token, self._sampled_at = token, now
        return True

    def _run(self) -> None:
        wait = self._every
        while not self._stop.wait(wait):
            wait = self._every
            try:
                if self._due():
                    took = time.thread_time()
                    self.sample()
                    took = time.thread_time() - took
                    # within its budget of a core: a big fleet's snapshots come a little less often
                    wait = max(self._every, took / SAMPLE_BUDGET - took)
            except BaseException:  # a reading taken while apps stop: the next one will do
                continue
