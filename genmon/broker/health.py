"""Is the broker answering? Measured with a request, not by the process existing.

A broker that was SIGSTOPped (or is swapping, or wedged) still has a live process and its kernel
still accepts TCP connections, so neither ``is_up()`` nor a connect tells it apart from a healthy
one. :class:`BrokerHealth` sends Kafka's smallest request, ApiVersions v0, every second and waits
for the answer: answered means up; a connection refused (or a dead process) means down; connected
but silent means not answering. Every spell that was not up is kept as an :class:`Outage` (on the
watcher's monotonic clock, with wall-clock text for people), so a loss can be put on the broker
when its values stopped during one (docs/ARCHITECTURE.md, "Broker faults").

For the embedded broker it also reads the process's resident memory: Tansu keeps every record in
memory and never frees it.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path

from genmon.broker.address import BrokerAddress
from genmon.model.snapshot import BrokerInfo, Outage

POLL_SECONDS = 1.0
ANSWER_SECONDS = 2.0
"""A broker that has not answered ApiVersions within this is 'not answering'."""
KEEP_OUTAGES = 20

_API_VERSIONS = 18


def api_versions_request(correlation_id: int, client_id: bytes = b"genmon-health") -> bytes:
    """ApiVersions v0 (request header v1: api key, version, correlation id, client id; empty body)."""
    body = struct.pack(">hhih", _API_VERSIONS, 0, correlation_id, len(client_id)) + client_id
    return struct.pack(">i", len(body)) + body


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed by the broker")
        data += chunk
    return data


def ask(host: str, port: int, timeout: float = ANSWER_SECONDS, address: BrokerAddress | None = None) -> str:
    """One ApiVersions round trip: ``"up"``, ``"down"`` (nothing listens) or ``"not answering"``.
    Over TLS where ``address`` says so (ApiVersions needs no SASL authentication first)."""
    from genmon.broker import clients

    try:
        sock = clients.raw_socket(address or BrokerAddress(host, port), host, port, timeout)
    except TimeoutError:
        return "not answering"
    except OSError:
        return "down"
    with sock:
        sock.settimeout(timeout)
        try:
            sock.sendall(api_versions_request(7))
            size = struct.unpack(">i", _read_exactly(sock, 4))[0]
            answer = _read_exactly(sock, min(size, 1 << 20))
        except TimeoutError:
            return "not answering"
        except OSError:
            return "down"
    return "up" if len(answer) >= 4 and struct.unpack(">i", answer[:4])[0] == 7 else "not answering"


def resident_bytes(pid: int) -> int | None:
    """The process's resident memory (Linux ``/proc``), or None where that cannot be read."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return None


def memory_total() -> int | None:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return None


def memory_warning_bytes() -> int:
    """Warn about the embedded broker's memory past a quarter of this machine's, at most 1 GiB."""
    total = memory_total()
    return min(1 << 30, total // 4) if total else 1 << 30


class BrokerHealth:
    """Polls the broker on a thread; :meth:`info` is safe from any thread.

    ``alive``: for a broker genmon runs itself, whether its process still exists (a dead process is
    down at once, without waiting for a timeout); ``pid``: its process, for its memory."""

    def __init__(
        self,
        address: BrokerAddress,
        *,
        embedded: bool = False,
        alive: Callable[[], bool] | None = None,
        pid: Callable[[], int | None] | None = None,
        every: float = POLL_SECONDS,
        answer_seconds: float = ANSWER_SECONDS,
        on_back: Callable[[], None] | None = None,
    ) -> None:
        """``on_back``: called (on a thread of its own) when the broker answers again after an
        outage, so the readers can reconnect."""
        self.address = address
        self.embedded = embedded
        self._alive = alive
        self._pid = pid
        self.every = every
        self.answer_seconds = answer_seconds
        self.state = "up"
        self.memory: int | None = None
        self.memory_warning = memory_warning_bytes()
        self.on_back = on_back
        self.outages: list[Outage] = []
        self.restarts: list[str] = []
        """When genmon restarted the (embedded) broker, HH:MM:SS."""
        self.checks = 0
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="genmon-broker-health", daemon=True)

    def start(self) -> BrokerHealth:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def check(self) -> str:
        """Ask once (any of the bootstrap servers answering is enough) and record the result, as of
        when the question was asked (a broker that does not answer is found out a timeout later)."""
        asked, asked_wall = time.monotonic(), time.time()
        if self._alive is not None and not self._alive():
            state = "down"
        else:
            states = [
                ask(host, port, self.answer_seconds, self.address) for host, port in self.address.servers[:3]
            ]
            state = "up" if "up" in states else ("not answering" if "not answering" in states else "down")
        pid = self._pid() if self._pid is not None else None
        memory = resident_bytes(pid) if pid else None
        self._record(state, asked, asked_wall)
        self.memory = memory
        self.checks += 1
        return state

    def _record(self, state: str, now: float, wall: float) -> None:
        with self._guard:
            last = self.outages[-1] if self.outages else None
            ongoing = last is not None and last.end is None
            if state == "up" and ongoing:
                assert last is not None
                self.outages[-1] = last.ended(now, wall)
                if self.on_back is not None:
                    threading.Thread(target=self.on_back, name="genmon-broker-back", daemon=True).start()
            elif state != "up" and not ongoing:
                self.outages.append(Outage.begin(state, now, wall))
                del self.outages[:-KEEP_OUTAGES]
            elif state != "up" and last is not None and last.state != state:
                self.outages[-1] = last.worse(state)
            self.state = state

    def restarted(self) -> None:
        """genmon restarted the broker: say so (header, sparkline title, log) and ask it now."""
        self.restarts.append(time.strftime("%H:%M:%S"))
        self.check()

    def info(self, url: str) -> BrokerInfo:
        with self._guard:
            outages = tuple(self.outages)
            state = self.state
        return BrokerInfo(
            url,
            self.embedded,
            state == "up",
            state=state,
            outages=outages,
            memory_bytes=self.memory,
            memory_warning_bytes=self.memory_warning if self.embedded else None,
            restarts=tuple(self.restarts),
        )

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            with contextlib.suppress(Exception):
                self.check()
            self._stop.wait(max(self.every - (time.monotonic() - started), 0.05))
