"""The sampler: the settle clocks' one driver, and how often it builds a snapshot."""

from __future__ import annotations

import threading
import time

import pytest
from fakes import demo_reading

from genmon.model import Reading
from genmon.watch import sampler as sampler_module
from genmon.watch.sampler import QUIET_SAMPLE_SECONDS, Sampler


def test_a_watchers_sampler_samples_about_once_a_second_while_nothing_changes() -> None:
    reads: list[float] = []

    def read() -> Reading:
        reads.append(time.monotonic())
        return demo_reading(time.monotonic())

    sampler = Sampler(read, 5.0, every=0.05, changed=lambda: 0)
    sampler.start()
    try:
        time.sleep(QUIET_SAMPLE_SECONDS * 2.5)  # nothing changes: about one sample a second
        assert 2 <= len(reads) <= 5, reads
        first = sampler.snapshot()
        assert sampler.snapshot() is first  # readers reuse the last sample
    finally:
        sampler.stop()


def test_a_watchers_sampler_samples_when_its_reading_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A report arrived (the token changed), or a command made the snapshot stale: the next tick
    samples. Quiet samples are an hour apart here, so nothing else can explain a new one — and the
    test waits for it as long as a loaded machine needs, instead of a fixed 0.2 s."""
    monkeypatch.setattr(sampler_module, "QUIET_SAMPLE_SECONDS", 3600.0)
    reads: list[float] = []
    token = [0]

    def read() -> Reading:
        reads.append(time.monotonic())
        return demo_reading(time.monotonic())

    def sampled_after(count: int, seconds: float = 10.0) -> bool:
        deadline = time.monotonic() + seconds
        while len(reads) <= count and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(reads) > count

    sampler = Sampler(read, 5.0, every=0.05, changed=lambda: token[0])
    sampler.start()
    try:
        assert sampled_after(1)  # the first tick takes the token it starts with
        time.sleep(0.5)
        quiet = len(reads)
        assert quiet == 2, reads  # then nothing: the token stays the same
        first = sampler.snapshot()
        token[0] += 1  # a report arrived: the next tick samples
        assert sampled_after(quiet), reads
        assert sampler.snapshot() is not first
        changed = len(reads)
        sampler.stale()  # a command: sampled again at once, whatever the token says
        assert sampled_after(changed), reads
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


def test_no_sample_is_recorded_after_the_sampler_stops() -> None:
    """A run's judged snapshot is taken once the sampler stopped: a sample under way then (its
    reading taken a moment later) once landed in the recording after it, and the replay ended a
    millisecond past what the run printed."""
    reading_now = threading.Event()
    recorded: list[str] = []

    class Recorder:
        def sample(self, reading: Reading, judged: str) -> None:
            recorded.append(judged)

    def read() -> Reading:
        if threading.current_thread().name == "genmon-sampler":
            reading_now.set()
            time.sleep(0.3)  # a reading under way when the sampler is stopped, slower than the last
        return demo_reading(time.monotonic())

    sampler = Sampler(read, 5.0, every=0.05)
    sampler.recorder = Recorder()
    sampler.start()
    reading_now.clear()
    assert reading_now.wait(5.0)  # the sampler's thread is inside a reading now
    sampler.stop()
    sampler.snapshot(fresh=True)  # the judged snapshot
    time.sleep(0.5)
    assert recorded[-1] == "peek", recorded
