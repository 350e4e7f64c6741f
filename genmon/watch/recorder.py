"""``--record FILE``: the run's inputs written as they happen (format: :mod:`genmon.model.recording`).

A :class:`Recorder` is handed to a monitor's fleet (every report it keeps, every reset and switch)
and to its sampler (every reading's other inputs, and how its snapshot was judged). Frames are
buffered and written once a second, and when the run ends: a run killed with SIGKILL leaves all but
its last second; any other way out — a failed check, a crash of genmon's own — closes the file
whole. Writing takes the recorder's lock only: the fleet's and the sampler's threads never wait on
the disk.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import replace
from typing import Any

from genmon.model.delta import delta_of
from genmon.model.recording import (
    CHECKPOINT_SECONDS,
    LOG,
    MAGIC,
    REPORT,
    RESET,
    SAMPLE,
    SWITCH,
    Blocks,
    Sample,
    frame,
    packed,
)
from genmon.model.state import Reading
from genmon.model.wire import WorkerReport, document

FLUSH_SECONDS = 1.0


class Recorder:
    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(self._fd, MAGIC)
        self._lock = threading.Lock()
        self._buffer: list[bytes] = []
        self._blocks = Blocks()
        self._flushed = time.monotonic()
        self._last: dict[str, tuple[WorkerReport, int, float]] = {}
        """worker -> (the report recorded last, its number in the recording, when its checkpoint was)"""
        self.bytes = 0
        self.closed = False

    # -- what the fleet and the sampler tell it -------------------------------------------------------
    def report(self, report: WorkerReport, now: float) -> None:
        known = self._last.get(report.worker)
        if known is None or now - known[2] >= CHECKPOINT_SECONDS:
            number = 1 if known is None else known[1] + 1
            data = document(_numbered(report, number))
            self._last[report.worker] = (report, number, now)
        else:
            base, number, checkpoint = known
            data = document(delta_of(_numbered(base, number), report, number + 1))
            self._last[report.worker] = (report, number + 1, checkpoint)
        self._add(frame(REPORT, now, data), now)

    def log(self, line: str) -> None:
        now = time.monotonic()
        self._add(frame(LOG, now, line.encode(errors="replace")), now)

    def reset(self) -> None:
        now = time.monotonic()
        self._add(frame(RESET, now, packed({})), now)

    def switch(self, app_id: str, name: str, on: bool, stamp: int) -> None:
        now = time.monotonic()
        self._add(frame(SWITCH, now, packed([app_id, name, on, stamp])), now)

    def sample(self, reading: Reading, judged: str) -> None:
        sample = Sample(
            now=reading.now,
            wall=reading.wall,
            uptime=reading.uptime,
            broker=reading.broker,
            offsets=reading.offsets,
            members=reading.group_members,
            settle_seconds=reading.settle_seconds,
            log_path=reading.log_path,
            listening_rows=reading.listening_rows,
            rejected=reading.rejected,
            unverified=reading.unverified,
            judged=judged,
        )
        self._add(frame(SAMPLE, reading.now, packed(sample.to_doc())), reading.now)

    # -- the file --------------------------------------------------------------------------------------
    def _add(self, data: bytes, now: float) -> None:
        with self._lock:
            if self.closed:
                return
            self._buffer.append(data)
            if now - self._flushed >= FLUSH_SECONDS:
                self._write()
                self._flushed = now

    def _write(self) -> None:
        if not self._buffer:
            return
        data = self._blocks.block(b"".join(self._buffer))
        self._buffer = []
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        self.bytes += len(data)

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self._write()
            os.close(self._fd)
            self.closed = True


def _numbered(report: WorkerReport, number: int) -> WorkerReport:
    return replace(report, number=number, delta=False)


def attach(monitor: Any, path: str) -> Recorder:
    """Record what ``monitor`` (a host or a watcher: a :class:`~genmon.watch.readout.Readout`) reads,
    from now on, to ``path``."""
    recorder = Recorder(path)
    monitor.fleet.recorder = recorder
    monitor.sampler.recorder = recorder
    return recorder
