"""Where Faust's and aiokafka's log lines go while genmon owns the terminal: a file and a panel.

Nothing may be printed over the screen (docs/ARCHITECTURE.md, "Rules"), so the root logger gets exactly two
handlers: a file (its path is shown on screen) and an in-memory ring the log panel reads.
``warnings`` (e.g. "coroutine 'Topic.send' was never awaited") are routed to the same place.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections import deque
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class LogRing(logging.Handler):
    """The last ``capacity`` formatted log lines, readable from any thread by sequence number."""

    def __init__(self, capacity: int = 2000) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter(FORMAT, "%H:%M:%S"))
        self._lines: deque[tuple[int, str]] = deque(maxlen=capacity)
        self._seq = 0
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            line = str(record.msg)
        with self._guard:
            self._seq += 1
            self._lines.append((self._seq, line))

    def add_line(self, line: str) -> None:
        """A line that is already formatted (a worker process's log, tailed)."""
        with self._guard:
            self._seq += 1
            self._lines.append((self._seq, line))

    def since(self, seq: int) -> tuple[int, list[str]]:
        """Lines after ``seq`` and the new last sequence number."""
        with self._guard:
            lines = [line for n, line in self._lines if n > seq]
            return self._seq, lines


def default_log_path() -> Path:
    """A per-run log file in the temp directory, never in the user's working directory."""
    folder = Path(tempfile.gettempdir()) / f"genmon-{os.getuid() if hasattr(os, 'getuid') else 0}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder / f"genmon-{os.getpid()}.log"


def route_logging(path: Path, level: int = logging.INFO) -> LogRing:
    """Send all logging (and warnings) to ``path`` and a fresh ring; nothing to the terminal."""
    ring = LogRing()
    ring.setLevel(level)
    file_handler = logging.FileHandler(path, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(file_handler)
    root.addHandler(ring)
    root.setLevel(min(level, logging.INFO))
    logging.captureWarnings(True)
    return ring


class LogTail:
    """Copies the lines appended to some files (the workers' logs) into a ring, on a thread.

    The workers' apps print and log into their own files; the log panel shows those lines too, with
    the worker's name in front when there are several."""

    def __init__(self, ring: LogRing, paths: list[Path], every: float = 0.25) -> None:
        self.ring = ring
        self.paths = paths
        self.every = every
        self._offsets: dict[Path, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="genmon-logtail", daemon=True)

    def start(self) -> LogTail:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2.0)
        self._read_all()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._read_all()

    def _read_all(self) -> None:
        offsets = self._offsets
        several = len(self.paths) > 1
        for number, path in enumerate(self.paths, 1):
            try:
                with open(path, "rb") as f:
                    f.seek(offsets.get(path, 0))
                    data = f.read()
            except OSError:
                continue
            end = data.rfind(b"\n")
            if end < 0:
                continue
            offsets[path] = offsets.get(path, 0) + end + 1
            for line in data[:end].decode("utf-8", "replace").splitlines():
                self.ring.add_line(f"w{number} {line}" if several else line)
