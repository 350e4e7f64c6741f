"""Every way `genmon check` ends: the exit status says what happened, stdout is what it promises, no
traceback, nothing left running, and always within its bound."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from procs import alive, children_of
from test_user_apps import ROOT, check

from genmon.cli.outcome import Exit


def test_a_hung_stop_is_abandoned_named_and_exits_5(tmp_path: Path) -> None:
    started = time.monotonic()
    done = check("-A", "tests.apps.hangs", "--embedded", "--duration", "2", timeout=90)
    took = time.monotonic() - started
    assert done.returncode == Exit.HUNG, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines.pop(0).startswith("genmon: the app runs on the embedded broker at kafka://127.0.0.1:")
    assert lines[0] == (
        "genmon: genmon-test-hangs did not stop within 5s (Faust's stop hung: an agent or task that never "
        "lets go); abandoned"
    )
    assert len(lines) == 2 and lines[1].startswith("genmon: log kept: ")  # exit 5 keeps the log
    assert done.stdout.rstrip().endswith("genmon check: 0 problems")  # the result is still printed
    assert took < 60


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_never_exits_0_and_never_prints_a_traceback(sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "genmon", "check", "-A", "tests.apps.basic", "--embedded", "--duration", "60"],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},  # SIGABRT dumps every thread's stack
    )
    try:
        deadline = time.monotonic() + 40
        while not children_of(proc.pid, b"genmon.fleet.worker") and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = children_of(proc.pid, b"genmon.fleet.worker")
        brokers = children_of(proc.pid, b"broker", b"--listener-url")
        assert workers and brokers, "genmon did not start its worker and broker"
        time.sleep(3.0)  # the app is running
        sent = time.monotonic()
        os.killpg(proc.pid, sig)  # as a terminal sends it: to genmon's whole process group
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            masks = [  # which signals it blocks, ignores and catches (hex bit masks: bit N-1 is signal N)
                line
                for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines()
                if line.startswith(("SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt"))
            ]
            proc.send_signal(signal.SIGABRT)  # where it hangs, in the failure's message
            _, err = proc.communicate(timeout=20)
            raise AssertionError(
                f"no exit 30 s after the signal: {masks}\n{err.decode(errors='replace')[-6000:]}"
            ) from None
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + sig, (proc.returncode, err[-2000:])
    assert b"Traceback" not in err and b"Exception ignored" not in err, err[-2000:]
    assert out == b""  # interrupted: no half-judged result
    assert took < 20
    time.sleep(0.5)
    assert not [pid for pid in (*workers, *brokers) if alive(pid)], "a worker or the broker outlived genmon"
