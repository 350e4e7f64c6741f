"""The run's log folder: pruned, rotated, removed or kept (no broker needed: files and processes)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from genmon.watch.logs import LOG_LIMIT_BYTES, prune_runs, route_logging


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_finished_runs_beyond_the_newest_are_pruned_and_live_ones_never(tmp_path: Path) -> None:
    dead = _dead_pid()
    folders = []
    for age in range(4):
        folder = tmp_path / f"run-{dead + 100000 * (age + 1)}"  # pids above the kernel's maximum: gone
        folder.mkdir()
        os.utime(folder, (1_000_000 + age, 1_000_000 + age))
        folders.append(folder)
    live = tmp_path / f"run-{os.getpid()}"
    live.mkdir()
    legacy = tmp_path / f"genmon-{dead}.log"
    legacy.write_text("0.1 left this\n")
    removed = prune_runs(tmp_path, keep=2)
    assert sorted(removed) == sorted([folders[0], folders[1], legacy])
    assert folders[2].exists() and folders[3].exists() and live.exists()


def test_a_log_rotates_past_its_limit_and_a_dying_thread_prints_nothing(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    before, hook, unraisable = list(root.handlers), threading.excepthook, sys.unraisablehook
    try:
        path = tmp_path / "genmon.log"
        route_logging(path)
        line = "x" * 1000
        for _ in range(LOG_LIMIT_BYTES // 1000 + 10):
            logging.getLogger("flood").info(line)
        assert path.stat().st_size < LOG_LIMIT_BYTES
        assert (tmp_path / "genmon.log.1").stat().st_size <= LOG_LIMIT_BYTES + 2000

        import asyncio

        def dies() -> None:
            raise asyncio.CancelledError  # a BaseException: what killed genmon-offsets once

        thread = threading.Thread(target=dies, name="genmon-test")
        thread.start()
        thread.join()
        assert "thread genmon-test died" in path.read_text()
        assert "CancelledError" in path.read_text()
        assert "Traceback" not in capfd.readouterr().err
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in before:
            root.addHandler(handler)
        threading.excepthook, sys.unraisablehook = hook, unraisable
