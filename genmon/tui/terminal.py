"""The screen's terminal may vanish under it (a closed tab, ``tmux kill-session``, a dropped SSH link):
genmon must then end within seconds, never hang or spin.

Textual writes the screen from a writer thread fed through a bounded queue. When the terminal is
gone, the first write raises (EIO) and kills that thread; the queue then fills and the next write
on the main thread blocks forever — signals included, since asyncio handles them on that same
blocked loop, so a closed pseudo-terminal would leave the process waiting with SIGHUP and SIGTERM
ignored. So the driver writes through :class:`Forgiving`: a failed write
is dropped (the writer thread lives on and drains the queue) and counts as a hang-up, which ends
the screen like any SIGHUP (exit status 129).
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any


class Forgiving:
    """A text file whose writes and flushes never raise once the terminal is gone."""

    def __init__(self, file: Any) -> None:
        self._file = file
        self.gone = False

    def write(self, text: str) -> int:
        if self.gone:
            return len(text)
        try:
            return int(self._file.write(text) or 0)
        except (OSError, ValueError):
            self._hang_up()
            return len(text)

    def flush(self) -> None:
        if self.gone:
            return
        try:
            self._file.flush()
        except (OSError, ValueError):
            self._hang_up()

    def _hang_up(self) -> None:
        """The terminal is gone: end the screen as a hang-up does (once)."""
        if not self.gone:
            self.gone = True
            os.kill(os.getpid(), signal.SIGHUP)

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding … of the real file
        return getattr(self._file, name)


def driver_class() -> type | None:
    """Textual's driver for this platform, writing through :class:`Forgiving` (None: Textual's own)."""
    from genmon.tui.served import ServedDriver, served

    if served():  # a browser tab's screen (genmon serve): pipes, not a terminal
        return ServedDriver
    if sys.platform == "win32" or os.environ.get("TEXTUAL_DRIVER"):  # another driver asked for
        return None
    from textual.drivers.linux_driver import LinuxDriver

    class GenmonDriver(LinuxDriver):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._file = Forgiving(self._file)  # type: ignore[assignment]  # a file in all but its type

    return GenmonDriver
