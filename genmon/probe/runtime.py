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
import contextvars
import secrets
import threading
from collections.abc import Callable, Iterable

from genmon.probe.source import RawSource, Source

HEADER = "genmon-id"
PAUSE_POLL_SECONDS = 0.05
STALL_SECONDS = 0.25
"""A loop that runs this late, or a sync generator that takes this long for one value, has stalled."""

CURRENT: contextvars.ContextVar[tuple[Source, int] | None] = contextvars.ContextVar(
    "genmon_current_value", default=None
)

_active: Probe | None = None
_topic_send_patched = False


def active_probe() -> Probe | None:
    """The installed probe, or None when the app runs without genmon."""
    return _active


class Probe:
    """Per-process state for one monitored app: its sources and their switches."""

    def __init__(self) -> None:
        self.sources: dict[str, Source] = {}
        self._by_header: dict[bytes, Source] = {}
        self._lock = threading.Lock()
        self.token = secrets.token_hex(4)

    # -- lifecycle -------------------------------------------------------------------------
    def install(self) -> None:
        """Make this the process's probe (one at a time) and hook ``Topic.send`` for pausing."""
        global _active
        _patch_topic_send()
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

    def source(self, name: str) -> Source:
        src = self.sources.get(name)
        return src if src is not None else self.declare(name)

    def by_header(self, value: bytes) -> tuple[Source, int] | None:
        """Decode a ``genmon-id`` header (``name@token:seq``) into its source and id.

        None when it is not ours: another run's token, or not genmon's format at all.
        """
        name, sep, seq = value.rpartition(b":")
        if not sep:
            return None
        src = self._by_header.get(name)
        if src is None or not seq.isdigit():
            return None
        return src, int(seq)

    def read(self) -> list[RawSource]:
        """Read every source (any thread)."""
        return [src.read() for src in list(self.sources.values())]

    # -- commands (run them on the Faust loop's thread) ---------------------------------------
    def set_on(self, names: Iterable[str] | None, on: bool) -> None:
        for src in self._select(names):
            src.on = on

    def reset(self) -> None:
        for src in list(self.sources.values()):
            src.reset()

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
    send.__wrapped__ = original  # type: ignore[attr-defined]
    Topic.send = send  # type: ignore[method-assign]
    _topic_send_patched = True
