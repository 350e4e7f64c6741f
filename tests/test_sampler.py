"""The sampler: the settle clocks' one driver, and how often it builds a snapshot."""

from __future__ import annotations

import time

from fakes import demo_reading

from genmon.host.sampler import QUIET_SAMPLE_SECONDS, Sampler
from genmon.model import Reading


def test_a_watchers_sampler_builds_when_its_reading_changed_and_once_a_second_otherwise() -> None:
    reads: list[float] = []
    token = [0]

    def read() -> Reading:
        reads.append(time.monotonic())
        return demo_reading(time.monotonic())

    sampler = Sampler(read, 5.0, every=0.05, changed=lambda: token[0])
    sampler.start()
    try:
        time.sleep(QUIET_SAMPLE_SECONDS * 2.5)  # nothing changes: about one sample a second
        quiet = len(reads)
        assert 2 <= quiet <= 5, reads
        first = sampler.snapshot()
        assert sampler.snapshot() is first  # readers reuse the last sample
        token[0] += 1  # a report arrived: the next tick samples
        time.sleep(0.2)
        assert len(reads) > quiet and sampler.snapshot() is not first
        changed = len(reads)
        sampler.stale()  # a command: sampled again at once, whatever the token says
        time.sleep(0.2)
        assert len(reads) > changed
    finally:
        sampler.stop()


def test_without_a_token_every_tick_samples() -> None:
    reads: list[float] = []

    def read() -> Reading:
        reads.append(time.monotonic())
        return demo_reading(time.monotonic())

    sampler = Sampler(read, 5.0, every=0.05)
    sampler.start()
    try:
        time.sleep(1.0)
    finally:
        sampler.stop()
    assert len(reads) >= 10  # ~20 ticks in a second; a loaded machine may drop some
