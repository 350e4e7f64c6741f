"""Where Faust's and aiokafka's log lines go while genmon owns the terminal: a file and a panel.

Nothing may be printed over the screen (docs/ARCHITECTURE.md, "Rules"), so the root logger gets exactly two
handlers: a file (its path is shown on screen) and an in-memory ring the log panel reads.
``warnings`` (e.g. "coroutine 'Topic.send' was never awaited") are routed to the same place.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import shutil
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class LogRing(logging.Handler):
    """The last ``capacity`` formatted log lines, readable from any thread by sequence number."""

    def __init__(self, capacity: int = 2000) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter(FORMAT, "%H:%M:%S"))
        self._lines: deque[tuple[int, str]] = deque(maxlen=capacity)
        self._seq = 0
        self._guard = threading.Lock()
        self.listener: Callable[[str], None] | None = None
        """Told every line as it comes (``--record`` writes them to the recording)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            line = str(record.msg)
        self.add_line(line)

    def add_line(self, line: str) -> None:
        """A line that is already formatted (a worker process's log, tailed)."""
        with self._guard:
            self._seq += 1
            self._lines.append((self._seq, line))
        listener = self.listener
        if listener is not None:
            listener(line)

    def since(self, seq: int) -> tuple[int, list[str]]:
        """Lines after ``seq`` and the new last sequence number."""
        with self._guard:
            lines = [line for n, line in self._lines if n > seq]
            return self._seq, lines


LOG_LIMIT_BYTES = 8 * 1024 * 1024
"""A log file rotates past this size (one older file kept): a broker that stays down makes Faust and
aiokafka log ~14 KB/s, and a long run must not fill the disk."""
KEEP_RUNS = 10
"""Kept run folders (runs that went wrong, or asked to keep theirs) beyond this many are removed."""
KEEP_STATUSES = frozenset({1, 3, 4, 5, 6})
"""Exit statuses that say something went wrong: the run's logs stay and their path is printed."""


class RunLogs:
    """This process's log folder: created on first use, removed at exit unless asked to keep it or
    the run went wrong (see :data:`KEEP_STATUSES`)."""

    keep = False
    """``--keep-log`` was given."""
    trouble = False
    """Something went wrong that the exit status does not say (e.g. the screen showed a crash)."""


def logs_root() -> Path:
    """``genmon-<uid>`` in the temp directory (mode 700): never the user's working directory."""
    root = Path(tempfile.gettempdir()) / f"genmon-{os.getuid() if hasattr(os, 'getuid') else 0}"
    root.mkdir(mode=0o700, exist_ok=True)
    return root


def run_folder() -> Path:
    """This run's folder, ``run-<pid>``: genmon's log, the broker's, the workers'."""
    return logs_root() / f"run-{os.getpid()}"


def default_log_path() -> Path:
    """genmon's log file, in this run's own folder (older runs' folders are pruned here)."""
    prune_runs(logs_root())
    folder = run_folder()
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder / "genmon.log"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's: alive
    return True


def prune_runs(root: Path, keep: int = KEEP_RUNS) -> list[Path]:
    """Remove the folders of finished runs (their process is gone: killed, or kept on purpose)
    beyond the ``keep`` newest; returns the removed ones."""
    done = []
    for folder in root.glob("run-*"):
        pid = folder.name.removeprefix("run-")
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                done.append((folder.stat().st_mtime, folder))
    removed = [folder for _, folder in sorted(done, reverse=True)[keep:]]
    for folder in removed:
        shutil.rmtree(folder, ignore_errors=True)
    for legacy in root.glob("genmon-*.*"):  # genmon 0.1 left genmon-<pid>.log and friends here, forever
        pid = legacy.name.removeprefix("genmon-").split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            legacy.unlink(missing_ok=True)
            removed.append(legacy)
    return removed


def finish_logs(status: int) -> Path | None:
    """At exit: this run's folder is removed, or kept when asked or when the run went wrong; returns
    the kept log's path (to print), if any."""
    folder = run_folder()
    if not folder.exists():
        return None
    if RunLogs.keep or RunLogs.trouble or status in KEEP_STATUSES:
        return folder / "genmon.log"
    root = logging.getLogger()
    for handler in list(root.handlers):  # lines logged while the interpreter ends go nowhere now
        if isinstance(handler, logging.FileHandler):
            root.removeHandler(handler)
            handler.close()
    root.addHandler(logging.NullHandler())
    shutil.rmtree(folder, ignore_errors=True)
    return None


def route_logging(path: Path, level: int = logging.INFO) -> LogRing:
    """Send all logging (and warnings) to ``path`` and a fresh ring; nothing to the terminal."""
    ring = LogRing()
    ring.setLevel(level)
    file_handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=LOG_LIMIT_BYTES, backupCount=1, encoding="utf-8"
    )
    file_handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(file_handler)
    root.addHandler(ring)
    root.setLevel(min(level, logging.INFO))
    logging.captureWarnings(True)
    threading.excepthook = _log_thread_error  # never a traceback over the screen or a user's terminal
    sys.unraisablehook = _log_unraisable
    return ring


def _log_thread_error(args: threading.ExceptHookArgs) -> None:
    """A thread that died of an exception (even a ``BaseException`` such as ``CancelledError``): its
    traceback goes to the log file, like every other line genmon does not show on the terminal."""
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    logging.getLogger("genmon").error("thread %s died", name, exc_info=args.exc_value or True)


def _log_unraisable(unraisable: Any) -> None:
    """ "Exception ignored in …" (a ``__del__`` or a closed generator that raised), to the log."""
    exc = unraisable.exc_value
    logging.getLogger("genmon").warning(
        "%s: %s",
        unraisable.err_msg or "Exception ignored in",
        unraisable.object,
        exc_info=(type(exc), exc, unraisable.exc_traceback) if exc is not None else None,
    )


class LogTail:
    """Copies the lines appended to some files (the workers' logs) into a ring, on a thread.

    The workers' apps print and log into their own files; the log panel shows those lines too, with
    the worker's name in front when there are several."""

    def __init__(self, ring: LogRing, paths: list[tuple[str, Path]], every: float = 0.25) -> None:
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
        for label, path in self.paths:
            try:
                with open(path, "rb") as f:
                    if os.fstat(f.fileno()).st_size < offsets.get(path, 0):
                        offsets[path] = 0  # rotated: a new file under the same name
                    f.seek(offsets.get(path, 0))
                    data = f.read()
            except OSError:
                continue
            end = data.rfind(b"\n")
            if end < 0:
                continue
            offsets[path] = offsets.get(path, 0) + end + 1
            for line in data[:end].decode("utf-8", "replace").splitlines():
                self.ring.add_line(f"{label} {line}" if label else line)
