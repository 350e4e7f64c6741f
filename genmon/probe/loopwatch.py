"""How late an app's event loop runs a periodic callback: blocking code shows as lateness.

Runs as a task on the app's own loop (started by genmon's app runner, or by the probe attached to a
``faust worker``); read from any thread. Also reads, about every second, which topics the app's
consumer has partitions of (on the loop: the consumer's state is the loop's).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from genmon.model import LoopStalls
from genmon.probe.runtime import STALL_SECONDS
from genmon.probe.touchpoints import assigned_topics

HEARTBEAT_SECONDS = 0.05
ASSIGNMENT_EVERY = 20
"""Heartbeats between two readings of the consumer's assignment (about a second)."""


class LoopWatch:
    def __init__(self) -> None:
        self.stalls = LoopStalls()
        self.assigned: frozenset[str] | None = None
        """Topics the app's consumer has partitions of (None: not known yet)."""
        self._last_beat: float | None = None

    async def run(self, app: Any) -> None:
        """The heartbeat; cancel it to stop."""
        beats = 0
        while True:
            if beats % ASSIGNMENT_EVERY == 0:
                self.assigned = assigned_topics(app)
            beats += 1
            before, wall = time.monotonic(), time.time()  # the one to measure, the one to show
            self._last_beat = before
            await asyncio.sleep(HEARTBEAT_SECONDS)
            late = time.monotonic() - before - HEARTBEAT_SECONDS
            if late >= STALL_SECONDS:
                s = self.stalls
                longest, at = s.longest, s.longest_at
                if late > longest:
                    longest, at = late, time.strftime("%H:%M:%S", time.localtime(wall))
                self.stalls = LoopStalls(s.count + 1, longest, at)

    def current(self, now: float, running: bool = True) -> LoopStalls:
        """The stalls so far, plus the one in progress if the loop has not come back yet."""
        stalls, beat = self.stalls, self._last_beat
        if beat is not None and running:
            ongoing = now - beat - HEARTBEAT_SECONDS
            if ongoing >= STALL_SECONDS:
                return LoopStalls(stalls.count, stalls.longest, stalls.longest_at, ongoing)
        return stalls

    def reset(self) -> None:
        self.stalls = LoopStalls()
