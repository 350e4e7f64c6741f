"""The probe: the one object genmon installs into a process to follow values.

``track`` asks :func:`active_probe` on every value; with no probe installed (the app runs without
genmon) it gets ``None`` and passes values through untouched. While a probe is installed:

* the generator wrapper stamps each yielded value's id into the context variable ``CURRENT``, which
  the send hook reads: a send made by the code consuming a yielded value belongs to that value;
* the send hook puts the id into a Kafka header (``genmon-id: <source>:<seq>``) so the consumer
  hooks can tell which value of which generator arrived, with no change to the user's code.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import secrets
import threading
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from genmon.probe.source import RawSource, Source

HEADER = "genmon-id"
PAUSE_POLL_SECONDS = 0.05
STALL_SECONDS = 0.25
"""A loop that runs this late, or a sync generator that takes this long for one value, has stalled."""

CURRENT: contextvars.ContextVar[tuple[Source, int, int] | None] = contextvars.ContextVar(
    "genmon_current_value", default=None
)
"""(source, id, yield time in µs since the epoch) of the value the current task is working on."""

UNAWAITED_SEND = "coroutine 'Topic.send' was never awaited"

_active: Probe | None = None
_topic_send_patched = False


def active_probe() -> Probe | None:
    """The installed probe, or None when the app runs without genmon."""
    return _active


@dataclass
class Inbound:
    """Counts (no ids: they carry none) of untracked messages consumed from one topic."""

    topic: str
    received: int = 0
    processed: dict[str, int] = field(default_factory=dict)


class Probe:
    """Per-process state for one monitored app: its sources and their switches."""

    def __init__(self) -> None:
        self.sources: dict[str, Source] = {}
        self._by_header: dict[bytes, Source] = {}
        self._lock = threading.Lock()
        self.token = secrets.token_hex(4)
        self.inbound: dict[str, Inbound] = {}
        self.consumed: dict[str, None] = {}
        """Every topic a message was consumed from (repartition topics included)."""
        """Per topic, messages that carry no id of this run (sent by code genmon does not see)."""

    # -- lifecycle -------------------------------------------------------------------------
    def install(self) -> None:
        """Make this the process's probe (one at a time) and hook the places no sensor sees."""
        global _active
        _patch_faust()
        _watch_unawaited_sends()
        _active = self

    def uninstall(self) -> None:
        global _active
        if _active is self:
            _active = None

    # -- sources ---------------------------------------------------------------------------
    def declare(self, name: str, function: str = "?", kind: str = "async") -> Source:
        """Register a tracked generator (idempotent); rows exist before the first value."""
        with self._lock:
            src = self.sources.get(name)
            if src is None:
                src = Source(name=name, function=function, kind=kind, token=self.token)
                self.sources[name] = src
                self._by_header[src.header_key] = src
            else:
                src.function, src.kind = function, kind
            return src

    def sender(self, name: str, function: str) -> Source:
        """The source for sends made by code that is not a tracked generator (a task, a timer,
        an agent forwarding): each send gets an id there, so what follows downstream is exact."""
        src = self.sources.get(name)
        return src if src is not None else self.declare(name, function, "sender")

    def inbound_for(self, topic: str) -> Inbound:
        found = self.inbound.get(topic)
        if found is None:
            found = self.inbound[topic] = Inbound(topic)
        return found

    def by_header(self, value: bytes) -> tuple[Source, int, int] | None:
        """Decode a ``genmon-id`` header (``name@token:seq:yield_us``) into source, id, yield time.

        None when it is not ours: another run's token, or not genmon's format at all.
        """
        parts = value.rsplit(b":", 2)
        if len(parts) != 3:
            return None
        src = self._by_header.get(parts[0])
        if src is None or not parts[1].isdigit() or not parts[2].isdigit():
            return None
        return src, int(parts[1]), int(parts[2])

    def from_headers(self, headers: Any) -> tuple[Source, int, int] | None:
        """Our value in a message's headers (a dict, or pairs), if it belongs to this run."""
        raw = header_value(headers)
        if raw is None:
            return None
        found = self.by_header(raw)
        if found is None or found[1] <= found[0].floor:
            return None
        return found

    def read(self) -> list[RawSource]:
        """Read every source (any thread)."""
        return [src.read() for src in list(self.sources.values())]

    # -- commands (run them on the Faust loop's thread) ---------------------------------------
    def set_on(self, names: Iterable[str] | None, on: bool) -> None:
        for src in self._select(names):
            if src.kind != "sender":
                src.on = on

    def reset(self) -> None:
        for src in list(self.sources.values()):
            src.reset()
        self.inbound = {}

    def _select(self, names: Iterable[str] | None) -> list[Source]:
        if names is None:
            return list(self.sources.values())
        return [self.sources[n] for n in names if n in self.sources]


def in_event_loop() -> bool:
    """True when called from a thread that is running an asyncio loop (blocking it would stall it)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def header_value(headers: Any) -> bytes | None:
    """Our header's value from a message's headers (a dict, or a sequence of pairs)."""
    if not headers:
        return None
    if isinstance(headers, dict):
        value = headers.get(HEADER)
    else:
        value = None
        for key, val in headers:
            if key == HEADER:
                value = val
                break
    if isinstance(value, str):
        value = value.encode()
    return value


def _record(cause: str, headers: Any) -> None:
    """Count a loss genmon saw happen (a decode failure, a crash) against the value's id."""
    probe = _active
    if probe is None:
        return
    with contextlib.suppress(Exception):
        found = probe.from_headers(headers)
        if found is not None:
            found[0].damaged[cause].add(found[1])


def _watch_unawaited_sends() -> None:
    """Count ``topic.send(...)`` calls nobody awaited, against the value being handled.

    Python warns when such a coroutine is discarded, in the task that discarded it, so the value
    it was meant to carry is still the task's current one. The filter makes the warning fire every
    time (by default Python shows it once per line); it goes to genmon's log, not the terminal.
    """
    global _showwarning_wrapper
    warnings.filterwarnings("always", message=UNAWAITED_SEND, category=RuntimeWarning)
    if _showwarning_wrapper is not None and warnings.showwarning is _showwarning_wrapper:
        return
    previous = warnings.showwarning  # someone (logging, a test runner) may have replaced ours

    def showwarning(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
        if _active is not None and category is RuntimeWarning and UNAWAITED_SEND in str(message):
            current = CURRENT.get()
            if current is not None and current[1] > current[0].floor:
                current[0].damaged["unawaited"].add(current[1])
        return previous(message, category, filename, lineno, file, line)

    warnings.showwarning = showwarning
    _showwarning_wrapper = showwarning


_showwarning_wrapper: Callable[..., Any] | None = None


def _patch_faust() -> None:
    """Hook the two places where Faust loses a value without any sensor hook firing."""
    _patch_topic_send()
    global _faust_patched
    if _faust_patched:
        return
    from faust.app.base import App
    from faust.channels import Channel
    from faust.exceptions import DecodeError
    from faust.streams import current_event

    on_decode_error = Channel.on_decode_error

    async def on_decode_error_counted(self, exc, message):  # type: ignore[no-untyped-def]
        # Faust acks (commits) an undecodable message: its value is lost for good.
        _record("decode_failed", getattr(message, "headers", None))
        return await on_decode_error(self, exc, message)

    on_agent_error = App._on_agent_error

    async def on_agent_error_counted(self, agent, exc):  # type: ignore[no-untyped-def]
        # Runs in the agent's task before the stream lets go of the event: it is still current.
        # A decode error is thrown into the agent between events: the current one is stale then.
        event = None if isinstance(exc, DecodeError) else current_event()
        if event is not None:
            _record("crashed", getattr(event, "headers", None))
        return await on_agent_error(self, agent, exc)

    Channel.on_decode_error = on_decode_error_counted  # type: ignore[method-assign]
    App._on_agent_error = on_agent_error_counted  # type: ignore[method-assign]
    _faust_patched = True


_faust_patched = False


def _patch_topic_send() -> None:
    """Wrap ``faust.Topic.send`` so a paused *sync* generator waits at its consumer's next send.

    A sync generator cannot pause on the event loop without blocking the loop, and a blocked loop
    stalls every agent. Its consumer's ``await topic.send(...)`` is the first point where waiting is
    harmless, so the pause happens there, after the send: the value already yielded still travels.
    """
    global _topic_send_patched
    if _topic_send_patched:
        return
    from faust.topics import Topic

    original: Callable = Topic.send

    async def send(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        result = await original(self, *args, **kwargs)
        if _active is not None:
            current = CURRENT.get()
            if current is not None and not current[0].on:
                src = current[0]
                while not src.on and _active is not None:
                    await asyncio.sleep(PAUSE_POLL_SECONDS)
        return result

    send.__doc__ = original.__doc__
    send.__name__, send.__qualname__ = original.__name__, original.__qualname__
    send.__wrapped__ = original  # type: ignore[attr-defined]
    Topic.send = send  # type: ignore[method-assign]
    _topic_send_patched = True
