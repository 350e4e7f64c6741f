"""Starting and stopping the worker processes genmon runs itself (:mod:`genmon.fleet.worker`).

Each worker runs in a session of its own, so the Ctrl+C or hang-up a terminal sends to genmon's
process group never reaches it directly: genmon stops its workers itself, in order, bounded
(SIGTERM, then SIGKILL after :data:`STOP_SECONDS`), and they die with genmon even on ``kill -9``
(``PR_SET_PDEATHSIG``). A worker's stdout and stderr — the app's own ``print()`` included — go to
its log file, never to genmon's terminal or its ``--json`` output.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from genmon.broker.process import _own_session_and_die_with_parent
from genmon.fleet.worker import PLAN_ENV

STOP_SECONDS = 8.0
"""How long a worker gets to stop its apps and send its final report before it is killed."""


class WorkerProcesses:
    """``count`` workers of one plan; ``log_path`` names their log files (``….w1.log`` …)."""

    def __init__(self, plan: dict[str, Any], count: int, log_path: Path) -> None:
        self.plan = plan
        self.count = count
        self.log_path = log_path
        self.procs: list[subprocess.Popen[bytes]] = []
        self.killed: list[int] = []
        """Workers (1-based) that had to be killed: their apps did not stop within the bound."""

    def log_of(self, number: int) -> Path:
        """The worker's log file (its logging, rotated past a size)."""
        return self.log_path.with_suffix(f".w{number}.log")

    def output_of(self, number: int) -> Path:
        """The worker's stdout and stderr: the app's ``print()``, and anything written past logging."""
        return self.log_path.with_suffix(f".w{number}.out")

    def tailed(self) -> list[tuple[str, Path]]:
        """What the log panel shows of the workers: (label, file), the label only when several."""
        label = (lambda n: f"w{n}") if self.count > 1 else (lambda n: "")
        return [
            (label(n), path) for n in range(1, self.count + 1) for path in (self.log_of(n), self.output_of(n))
        ]

    def start(self) -> WorkerProcesses:
        # a faust worker's settings for genmon (docs/FLEET.md): not for these, which are genmon's own
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("GENMON_BROKER", "GENMON_KAFKA_CONFIG", "GENMON_KAFKA_PROPERTIES")
        }
        for number in range(1, self.count + 1):
            plan = {**self.plan, "log_path": str(self.log_of(number)), "number": number}
            plan["parent"] = os.getpid()  # the worker stops once it is no longer genmon's child
            if plan.get("status_path"):
                plan["status_path"] = f"{plan['status_path']}.w{number}"
            with open(self.output_of(number), "ab") as out:
                self.procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "genmon.fleet.worker"],
                        env={**env, PLAN_ENV: json.dumps(plan), "PYTHONUNBUFFERED": "1"},
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        preexec_fn=_own_session_and_die_with_parent,
                        cwd=self.plan.get("cwd") or None,
                    )
                )
        return self

    def exited(self) -> list[tuple[int, int]]:
        """(worker number, exit status) of the workers that are no longer running."""
        return [(i, p.returncode) for i, p in enumerate(self.procs, 1) if p.poll() is not None]

    def last_line(self, number: int) -> str:
        """The last line a worker wrote to its log (why it exited, usually)."""
        for path in (self.output_of(number), self.log_of(number)):  # a traceback lands in the output
            with contextlib.suppress(OSError):
                lines = path.read_text(errors="replace").strip().splitlines()
                if lines:
                    return lines[-1]
        return ""

    def stop(self, timeout: float = STOP_SECONDS) -> list[int]:
        """SIGTERM every worker, SIGKILL those still running after ``timeout``; idempotent.

        Returns the workers that had to be killed."""
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for number, proc in enumerate(self.procs, 1):
            try:
                proc.wait(max(deadline - time.monotonic(), 0.0))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(2.0)
                if number not in self.killed:
                    self.killed.append(number)
        return list(self.killed)
