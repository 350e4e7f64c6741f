"""The screen over a recorded run (``genmon replay FILE``): time under the user's control.

The monitor is a :class:`~genmon.watch.replay.Replay`; the screen reads its snapshots like any
monitor's. These controls move it: ``p`` plays (at the recorded pace) or pauses, ``.`` and ``,``
step one sample forward or back, ``j`` jumps to the next moment a row gets a problem (a loss, a
crash, values stuck). The status line says where in the run the screen is (``replay 12.4 s of
30.0 s``). A replay opens at the run's end; ``p`` there plays it from the start.
"""

from __future__ import annotations

import time
from typing import Any, Protocol


class Seekable(Protocol):
    position: int
    samples: list[int]

    @property
    def at(self) -> float: ...

    @property
    def length(self) -> float: ...

    def seek(self, position: int) -> Any: ...

    def next_problem(self, after: int) -> int | None: ...

    def time_of(self, position: int) -> float: ...


class ReplayClock:
    """Where the screen is in the recording, and whether it plays."""

    def __init__(self, replay: Seekable) -> None:
        self.replay = replay
        self.playing = False
        self._started_wall = 0.0
        self._started_at = 0.0
        self.note = ""
        """What the last key did, when it could not (``no later problem``)."""

    def line(self) -> str:
        state = "playing" if self.playing else "paused"
        note = f" ─ [yellow]{self.note}[/]" if self.note else ""
        return (
            f"[b]replay {self.replay.at:.1f} s of {self.replay.length:.1f} s[/] {state} ─ p play/pause · "
            f". , step · j next problem{note} ─ "
        )

    def toggle(self) -> None:
        self.note = ""
        if not self.playing and self.replay.position >= len(self.replay.samples) - 1:
            self.replay.seek(0)  # play again from the start once at the end
        self.playing = not self.playing
        self._started_wall, self._started_at = time.monotonic(), self.replay.at

    def step(self, by: int) -> None:
        self.playing, self.note = False, ""
        self.replay.seek(self.replay.position + by)

    def next_problem(self) -> None:
        self.playing = False
        found = self.replay.next_problem(self.replay.position)
        self.note = "" if found is not None else "no later problem"

    def tick(self) -> bool:
        """While playing, move to the sample the recorded pace has reached; True when it moved."""
        if not self.playing:
            return False
        due = self._started_at + (time.monotonic() - self._started_wall)
        position = self.replay.position
        last = len(self.replay.samples) - 1
        while position < last and self.replay.time_of(position + 1) <= due:
            position += 1
        if position >= last:
            self.playing = False
        if position == self.replay.position:
            return False
        self.replay.seek(position)
        return True
