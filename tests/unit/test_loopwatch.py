"""The loop's heartbeat: a stall is measured on the monotonic clock and shown on the wall clock."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

from genmon.probe.loopwatch import LoopWatch


def test_a_stall_is_timed_at_the_wall_clock_time_it_began() -> None:
    watch = LoopWatch()

    async def stall() -> None:
        beat = asyncio.create_task(watch.run(SimpleNamespace()))
        await asyncio.sleep(0.1)
        time.sleep(0.4)  # blocking code on the loop
        await asyncio.sleep(0.1)
        beat.cancel()

    began = time.time()
    asyncio.run(stall())
    stalls = watch.stalls
    assert stalls.count == 1 and stalls.longest >= 0.3
    assert stalls.longest_at is not None
    shown = time.strptime(stalls.longest_at, "%H:%M:%S")
    seconds = shown.tm_hour * 3600 + shown.tm_min * 60 + shown.tm_sec
    now = time.localtime(began)
    expected = now.tm_hour * 3600 + now.tm_min * 60 + now.tm_sec
    assert abs(seconds - expected) % 86_400 <= 2, (stalls.longest_at, time.strftime("%H:%M:%S", now))
