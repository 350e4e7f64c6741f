"""A broker that genmon runs itself, as a child process on loopback, and always stops again.

The embedded Tansu broker and the local Apache Kafka share this life: a scratch directory, a free
port, a child in its own session (a terminal's Ctrl+C or hang-up reaches genmon, which stops the
broker itself, last) that on Linux also dies with genmon (``PR_SET_PDEATHSIG``: even a ``kill -9``
of genmon leaves no broker behind), a wait until it answers, and a stop that escalates to SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from genmon.broker.address import BrokerAddress, BrokerError, unreachable_because


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _own_session_and_die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    os.setsid()
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(Exception):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


B = TypeVar("B", bound="BrokerProcess")


class BrokerProcess:
    """One broker process. Use as a context manager, or ``start()`` / ``stop()``.

    Subclasses say how to prepare the scratch directory and which command runs the broker.
    """

    name = "broker"
    slug = "broker"
    """For file names (the scratch directory's prefix)."""
    faust_settings: Mapping[str, Any] = {}
    """Faust settings an app needs on this broker to join its consumer group quickly."""
    stop_grace = 3.0
    """Seconds between SIGTERM and SIGKILL."""
    creates_topics_for_consumers = False
    """Whether a consumer's metadata request for a missing topic creates it in time for the group's
    first assignment (else the agent waits for its next metadata refresh: see genmon.host.topics)."""

    def __init__(
        self, log_path: Path | None = None, ready_timeout: float = 10.0, port: int | None = None
    ) -> None:
        self.log_path = log_path
        self.ready_timeout = ready_timeout
        self.port = port
        """The loopback port to listen on (None: a free one)."""
        self.address: BrokerAddress | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._workdir: tempfile.TemporaryDirectory[str] | None = None
        self._command: list[str] = []

    # -- what a subclass provides ----------------------------------------------------------
    def prepare(self, workdir: Path, port: int) -> None:
        """Write what the broker needs into ``workdir`` before it starts (may raise BrokerError)."""

    def command(self, workdir: Path, port: int) -> Sequence[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        """Whether the started broker answers (default: it accepts connections)."""
        assert self.address is not None
        return unreachable_because(self.address, timeout=0.2) is None

    # -- life ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self.address is not None, f"{self.name} not started"
        return self.address.url

    def pid(self) -> int | None:
        """The broker's process id while it runs (for its memory), else None."""
        return self.process.pid if self.process is not None and self.process.poll() is None else None

    def is_up(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self: B) -> B:
        port = self.port or free_port()
        self.address = BrokerAddress("127.0.0.1", port)
        if self.port and unreachable_because(self.address, timeout=0.5) is None:
            raise BrokerError(f"port {port} on 127.0.0.1 is already in use")
        # The scratch directory keeps whatever the broker writes out of the user's working directory.
        self._workdir = tempfile.TemporaryDirectory(prefix=f"genmon-{self.slug}-")
        workdir = Path(self._workdir.name)
        try:
            self.prepare(workdir, port)
            command = list(self.command(workdir, port))
        except BaseException:
            self.stop()
            raise
        self._command = command
        self._spawn(command, workdir)
        return self

    def bounce(self) -> None:
        """Stop the broker process and start it again on the same port and the same storage, as an
        operator restarts a broker: Apache Kafka keeps its log and committed offsets (the embedded
        broker keeps nothing in memory). Clients reconnect by themselves."""
        assert self.process is not None and self._workdir is not None, f"{self.name} not started"
        proc, self.process = self.process, None
        proc.terminate()
        try:
            proc.wait(timeout=self.stop_grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        self._spawn(self._command, Path(self._workdir.name))

    def _spawn(self, command: list[str], workdir: Path) -> None:
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                cwd=workdir,
                preexec_fn=_own_session_and_die_with_parent,
            )
        except OSError as exc:
            self.stop()
            raise BrokerError(f"{self.name} could not be started: {exc}") from None
        finally:
            if not isinstance(out, int):  # a log file, not DEVNULL
                out.close()
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                self.stop()
                raise BrokerError(f"{self.name} exited at start (status {code})")
            if self.ready():
                return
            time.sleep(0.05)
        self.stop()
        raise BrokerError(f"{self.name} did not answer within {self.ready_timeout:g}s")

    def restart(self) -> BrokerProcess:
        """Stop what is left of it and start it again on the same port, so the clients that knew it
        reconnect by themselves. The embedded broker keeps nothing: it comes back empty."""
        port = self.address.port if self.address is not None else self.port
        self.stop()
        chosen, self.port = self.port, port
        try:
            return self.start()
        finally:
            self.port = chosen

    def stop(self) -> None:
        """Stop the broker (idempotent): SIGTERM, then SIGKILL after ``stop_grace`` seconds."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=self.stop_grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def __enter__(self: B) -> B:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
