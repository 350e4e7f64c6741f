"""``genmon replay FILE``: a recorded run (:mod:`genmon.model.recording`) played back as a monitor.

The recording's reports go into a :class:`~genmon.model.merge.Fleet` in the order they were kept,
and at each of its samples the fleet is read with that sample's broker truth and time and judged
as the run's sampler judged it — the same code as the live run, so the replay's snapshots are the
run's. Time is the user's: :meth:`Replay.seek` moves to any sample (forward from where it is, or
from the start when going back, inflating the stream again: the run is never held inflated).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from genmon.model import Clocks, NotSwitchable, Snapshot, build
from genmon.model.merge import Fleet
from genmon.model.path import ValuePath, value_path
from genmon.model.recording import (
    LOG,
    REPORT,
    RESET,
    SAMPLE,
    SWITCH,
    Frame,
    FrameStream,
    RecordingError,
    Sample,
    sample_from,
    unpacked,
)
from genmon.model.state import Reading
from genmon.model.wire import WireError, from_document


class Replay:
    """A :class:`~genmon.model.Monitor` over a recording: snapshots of the moment it is at."""

    def __init__(self, path: str) -> None:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise RecordingError(f"cannot read {path}: {exc.strerror or exc}") from None
        self.stream = FrameStream(data)
        self.samples: list[int] = []
        """Index of each sample frame: the moments a replay can show."""
        self.sampled: list[float] = []
        """The time of each sample (the recording's clock)."""
        self.logs: list[tuple[int, str]] = []
        """(frame index, line) of every log line: the log panel shows those up to the moment."""
        for i, f in enumerate(self.stream):  # the index; the frames themselves are read again to play
            if f.kind == SAMPLE:
                self.samples.append(i)
                self.sampled.append(f.at)
            elif f.kind == LOG:
                self.logs.append((i, f.payload.decode(errors="replace")))
        self.cut = self.stream.cut
        if not self.samples:
            raise RecordingError("the recording holds no reading (the run ended before its first)")
        self.started = self.sampled[0]
        self.snap: Snapshot
        """The snapshot of the moment shown (set by every seek: it plays at least one sample)."""
        self._restart()
        self.seek(len(self.samples) - 1)

    # -- time --------------------------------------------------------------------------------------
    @property
    def length(self) -> float:
        """Seconds from the first sample to the last."""
        return self.sampled[-1] - self.started

    @property
    def at(self) -> float:
        """Seconds into the recording of the moment shown."""
        return self.time_of(self.position)

    def time_of(self, position: int) -> float:
        """Seconds into the recording of sample ``position``."""
        return self.sampled[position] - self.started

    def seek(self, position: int) -> Snapshot:
        """Move to sample ``position`` (clamped); its snapshot."""
        position = min(max(position, 0), len(self.samples) - 1)
        target = self.samples[position]
        if target < self._next:
            self._restart()
        while self._next <= target:
            self._play(next(self._frames))
            self._next += 1
        self.position = position
        return self.snap

    def seek_seconds(self, seconds: float) -> Snapshot:
        """Move to the last sample at or before ``seconds`` into the recording."""
        chosen = 0
        for position, at in enumerate(self.sampled):
            if at - self.started <= seconds + 1e-9:
                chosen = position
        return self.seek(chosen)

    def next_problem(self, after: int) -> int | None:
        """The first sample past ``after`` whose snapshot has a row with a problem it had not before
        (a loss, a crash, values stuck): where to jump to."""
        before = {p.name for p in self.seek(after).pipelines if p.verdict.state.problem}
        for position in range(after + 1, len(self.samples)):
            now = {p.name for p in self.seek(position).pipelines if p.verdict.state.problem}
            if now - before:
                return position
        self.seek(after)
        return None

    # -- playing -----------------------------------------------------------------------------------
    def _restart(self) -> None:
        self.fleet = Fleet()
        self.clocks: Clocks | None = None
        self.reading: Reading | None = None
        self._frames = iter(self.stream)
        self._next = 0
        self.position = 0

    def _play(self, frame: Frame) -> None:
        if frame.kind == REPORT:
            try:
                self.fleet.add(from_document(frame.payload), frame.at)
            except WireError as exc:
                raise RecordingError(f"a damaged report ({exc})") from None
        elif frame.kind == RESET:
            self.fleet.reset()
        elif frame.kind == SWITCH:
            try:
                app_id, name, on, stamp = unpacked(frame.payload)
                self.fleet.switch(str(app_id), str(name), bool(on), int(stamp))
            except (TypeError, ValueError) as exc:
                raise RecordingError(f"a damaged switch ({exc})") from None
        elif frame.kind == SAMPLE:
            self._judge(sample_from(unpacked(frame.payload)))

    def _judge(self, sample: Sample) -> None:
        self.fleet.rejected = sample.rejected
        self.fleet.unverified = dict(sample.unverified)
        reading = self.fleet.reading(
            sample.now,
            broker=sample.broker,
            offsets=sample.offsets,
            settle_seconds=sample.settle_seconds,
            log_path=sample.log_path,
            uptime=sample.uptime,
            listening_rows=sample.listening_rows,
            group_members=sample.members,
            wall=sample.wall,
        )
        clocks = self.clocks or Clocks(sample.settle_seconds)
        if sample.judged == "advance":
            self.snap, self.clocks = build(reading, clocks)
        elif sample.judged == "over":
            self.snap, _ = build(reading, replace(clocks, settle_seconds=0.0))
        else:
            self.snap, _ = build(reading, clocks)
        self.reading = reading

    # -- the Monitor protocol -------------------------------------------------------------------------
    def snapshot(self, fresh: bool = False) -> Snapshot:
        return self.snap

    def set_generator(self, name: str, on: bool) -> None:
        raise NotSwitchable("a replay shows a recorded run: nothing to switch")

    def set_all(self, on: bool) -> None:
        raise NotSwitchable("a replay shows a recorded run: nothing to switch")

    def reset(self) -> None:
        raise NotSwitchable("a replay shows a recorded run: nothing to reset")

    def path(self, row: str, seq: int) -> ValuePath:
        assert self.reading is not None
        return value_path(self.reading, self.snap, row, seq)

    def since(self, seq: int) -> tuple[int, list[str]]:
        """The log panel's lines after ``seq`` up to the moment shown (a :class:`LogSource`)."""
        upto = self.samples[self.position]
        shown = [line for index, line in self.logs if index <= upto]
        return len(shown), shown[seq:]

    def to_json(self) -> str:
        return json.dumps(self.snap.to_dict(), indent=2)
