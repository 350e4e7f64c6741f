"""The probe: the one object genmon installs into a process to follow values.

``track`` asks :func:`active_probe` on every value; with no probe installed (the app runs without
genmon) it gets ``None`` and passes values through untouched. While a probe is installed:

* the generator wrapper stamps each yielded value's id into the context variable ``CURRENT``, which
  the send hook reads: a send made by the code consuming a yielded value belongs to that value;
* the send hook puts the id into a Kafka header (``genmon-id: <source>@<run>:<seq>:<yield µs>``) so
  the consumer hooks can tell which value of which generator arrived, with no change to user code;
* :mod:`genmon.probe.touchpoints` hooks the places where Faust loses a value with no sensor hook.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from pyroaring import BitMap

from genmon.model import Cause, InboundState, RowKind, SourceState
from genmon.model.text import ended_note, one_line, root_error
from genmon.probe import touchpoints
from genmon.probe.landing import Positions
from genmon.probe.ledger import Ledger
from genmon.probe.source import Source

HEADER = "genmon-id"
ORIGIN = "genmon-origin"
"""The header a hop's message carries besides its own id: the ``genmon-id`` of the value it was made
from at the first hop (a tracked generator's value), copied from hop to hop (docs/ARCHITECTURE.md,
"A value keeps its origin")."""
PAUSE_POLL_SECONDS = 0.05
STALL_SECONDS = 0.25
"""A loop that runs this late, or a sync generator that takes this long for one value, has stalled."""
PARSED_LIMIT = 8192
"""Decoded headers kept (received, not yet processed: a consumer's buffers hold far fewer)."""
MISSING: Any = object()
NOWHERE = (-1, -1)
"""Where a value acked in a channel's queue landed: no partition, no offset (nothing orders it)."""

CURRENT: contextvars.ContextVar[tuple[Source, int, int] | None] = contextvars.ContextVar(
    "genmon_current_value", default=None
)
"""(source, id, yield time in µs since the epoch) of the value the current task is working on."""

OWNER: contextvars.ContextVar[str | None] = contextvars.ContextVar("genmon_owner", default=None)
"""The label of the app run whose loop (and tasks) run the current code: sources declared or fed
there belong to that app."""

_active: Probe | None = None


def header_of(headers: Any, name: str = HEADER) -> bytes | str | None:
    """The value of genmon's id header (or another of its headers) in a message's headers (a dict,
    or pairs), or None. The hooks keep this, not the headers: a list kept for half a second until
    the count outlived the garbage collector's young generations (see :mod:`genmon.probe.ledger`,
    "Flat queues")."""
    if not headers:
        return None
    if isinstance(headers, dict):  # a subclass too: iterating one would give its keys, not pairs
        return headers.get(name)
    for key, value in headers:
        if key == name:
            return value
    return None


def origin_in(headers: Any) -> bytes | str | None:
    """The origin a message's value carries: its ``genmon-origin`` (a later hop's), else its own
    ``genmon-id`` (a first hop's: the value is its own origin)."""
    return header_of(headers, ORIGIN) or header_of(headers, HEADER)


def active_probe() -> Probe | None:
    """The installed probe, or None when the app runs without genmon."""
    return _active


class Inbound:
    """Counts (no ids: they carry none) of untracked messages consumed from one topic."""

    __slots__ = ("processed", "received", "topic")

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.received = 0
        self.processed: dict[str, int] = {}

    def read(self) -> InboundState:
        return InboundState(self.topic, self.received, dict(self.processed))


class Probe:
    """Per-process state for the monitored apps: their sources and their switches."""

    def __init__(self) -> None:
        self.sources: dict[str, Source] = {}
        self._by_header: dict[bytes, Source] = {}
        self._parsed: dict[bytes | str, tuple[bytes, int, int] | None] = {}
        """a header's value -> what ``_decode`` made of it: (source's ``name@token``, id, yield
        time), or None (see ``from_header``)"""
        self._lock = threading.Lock()
        self.token = secrets.token_hex(4)
        self.started_us = time.time_ns() // 1000
        """When this run began (µs since the epoch): none of its values was yielded before."""
        self.forged = 0
        """Records carrying this run's id header with an id it never made (copied, replayed or
        forged by some producer): counted apart, never as a pipeline's value."""
        self.inbound: dict[str, Inbound] = {}
        """Per topic, messages that carry no id of this run (sent by code genmon does not see)."""
        self.consumed: dict[str, None] = {}
        """Every topic a message was consumed from (repartition topics included)."""
        self.on_declare: Callable[[Source], None] | None = None
        """Called with each new tracked source (a worker applies the fleet's switches to it)."""
        self.crash_notes: dict[str, str] = {}
        """app run label -> the last agent crash seen in it (``agent count raised KeyError('x')``):
        named when the app itself then stops (mode's supervisor gives up, the worker exits)."""
        self.agent_crashes: dict[str | None, dict[str, tuple[str, float]]] = {}
        self.agent_windows: dict[str | None, dict[str, float]] = {}
        """owner -> agent -> the longest ``take()`` window it batches with (seconds)."""
        """app run -> agent -> (its latest crash's note, when on the wall clock): an agent that
        read nothing after its crash is why values wait on its topic."""
        self.soon: dict[int, tuple[Any, tuple[Source, int, int] | None]] = {}
        """``id(PendingMessage)`` -> (the message, the value current when ``send_soon`` buffered it):
        read by the send hook when Faust's producer task publishes it (see :meth:`_buffered`)."""
        self.foreign: dict[bytes, Source] = {}
        """``name@token`` -> what this process received and processed of another process's source
        (a fleet: sent in one worker, received in another). Merged by the watcher."""
        self.ledger = Ledger()
        """What the hooks saw and nobody counted yet (see :mod:`genmon.probe.ledger`)."""
        self.positions = Positions(self.ledger.lock)
        """How far each app run's consumer read each partition (filled by the count)."""

    # -- lifecycle -------------------------------------------------------------------------
    def install(self) -> None:
        """Make this the process's probe (one at a time) and hook the places no sensor sees."""
        global _active
        from genmon.probe import sensor  # imports this module: bound here, once, not per send

        self._identify, self._send_to_channel = sensor.identify, sensor.channel_send
        self._sender_name, self._current_origin = sensor.sender_name, sensor.current_origin
        touchpoints.install(
            touchpoints.Hooks(
                on_crash=self._crashed,
                on_agent_end=self._ended,
                on_window=self._window,
                on_decode_error=lambda message: self.record(
                    Cause.DECODE_FAILED, getattr(message, "headers", None)
                ),
                on_unawaited=self._unawaited,
                hop=sensor.current_hop,
                after_send=self._after_send,
                current=CURRENT,
                on_send_soon=self._buffered,
                on_channel_send=self._channel_send,
                on_channel_put=self._channel_put,
                on_send_raised=self._send_raised,
            )
        )
        _active = self

    def uninstall(self) -> None:
        """Stop following values and put back everything :meth:`install` patched."""
        global _active
        if _active is self:
            _active = None
            touchpoints.uninstall()

    # -- sources ---------------------------------------------------------------------------
    def declare(
        self, name: str, function: str = "?", kind: RowKind = RowKind.ASYNC, code: str = ""
    ) -> Source:
        """Register a source (idempotent); rows exist before the first value. ``code``: where its
        function is defined (``path:line``), when known."""
        with self._lock:
            src = self.sources.get(name)
            if src is None:
                src = Source(
                    name=name, function=function, kind=kind, token=self.token, owner=OWNER.get(), code=code
                )
                self._keep(src)
                self.sources[name] = src
                self._by_header[src.header_key] = src
                self._parsed.clear()  # a header decoded before its source was known is decoded again
                if self.on_declare is not None and src.owner is not None:
                    with contextlib.suppress(Exception):
                        self.on_declare(src)
            else:
                src.function, src.kind = function, kind
            return src

    def _keep(self, src: Source) -> Source:
        """A new source, counted by this probe's ledger: read and reset it under its lock."""
        src.settle, src.guard = self.drain, self.ledger.lock
        return src

    def drain(self) -> None:
        """Count what the hooks queued (any thread; see :mod:`genmon.probe.ledger`)."""
        self.ledger.count(self)

    def sender(self, name: str, function: str) -> Source:
        """The source for sends made by code that is not a tracked generator (a task, a timer,
        an agent forwarding): each send gets an id there, so what follows downstream is exact."""
        src = self.sources.get(name)
        return src if src is not None else self.declare(name, function, RowKind.SENDER)

    def adopt(self, owner: str) -> None:
        """Give every source no app run claimed yet to ``owner`` (generators declared at import)."""
        with self._lock:
            for src in self.sources.values():
                if src.owner is None:
                    src.owner = owner

    def inbound_for(self, topic: str) -> Inbound:
        found = self.inbound.get(topic)
        if found is None:
            found = self.inbound[topic] = Inbound(topic)
        return found

    def _foreign(self, key: bytes, owner: Any = MISSING) -> Source | None:
        """The record of another process's source, created on its first value here (``owner``: the
        app run that received it; default: the one whose loop runs this)."""
        name, at, token = key.decode(errors="replace").rpartition("@")
        if not at or not name or not token:
            return None
        with self._lock:
            src = self.foreign.get(key)
            if src is None:
                if owner is MISSING:
                    owner = OWNER.get()
                src = self.foreign[key] = self._keep(Source(name, token=token, foreign=True, owner=owner))
            return src

    def from_headers(self, headers: Any, owner: Any = MISSING) -> tuple[Source, int, int] | None:
        """Our value in a message's headers (a dict, or pairs), if it belongs to this run."""
        return self.from_header(header_of(headers), owner)

    def from_header(
        self, raw: bytes | str | None, owner: Any = MISSING, last: bool = False
    ) -> tuple[Source, int, int] | None:
        """Our value in the value of a ``genmon-id`` header (see :func:`header_of`), if it belongs
        to this run.

        A message's header is looked up when it is received and again when it is processed:
        what it decodes to is kept, by its bytes, from one to the other, and let go at the
        processed stage (``last``) — kept longer (up to ``PARSED_LIMIT`` headers), each decoded
        header outlived the garbage collector's young generations and set off full collections.
        A redelivery, or a second agent reading the topic, decodes it again; a forged header's
        verdict stays kept (it is counted once)."""
        if raw is None:
            return None
        parsed = self._parsed
        kept = parsed.get(raw, MISSING)
        if kept is MISSING:
            found = self._decode(raw, owner, keep=not last)
        elif kept is None:
            return None  # forged, or not ours
        else:
            name, seq, yielded_at = kept
            src = self._by_header.get(name) or self.foreign.get(name)
            if src is None:
                return None
            found = (src, seq, yielded_at)
            if last:
                parsed.pop(raw, None)
        if found is None or found[1] <= found[0].floor:
            return None
        return found

    def _decode(
        self, raw: bytes | str, owner: Any = MISSING, keep: bool = True
    ) -> tuple[Source, int, int] | None:
        """A ``genmon-id`` header's value (``name@token:seq:yield_us``) the cache did not hold:
        decoded into (source, id, yield time), checked, and kept by its bytes (a forged one
        always, ``keep`` says for the others). None when it is not ours: another run's token, not
        genmon's format, or an id this run never made."""
        key = raw
        if isinstance(raw, str):
            raw = raw.encode()
        found: tuple[Source, int, int] | None = None
        parts = raw.rsplit(b":", 2)
        if len(parts) == 3 and _is_number(parts[1], 10) and _is_number(parts[2], 20):
            name = parts[0]
            src = self._by_header.get(name) or self.foreign.get(name) or self._foreign(name, owner)
            if src is not None:
                seq, yielded_at = int(parts[1]), int(parts[2])
                if not src.foreign and (seq > src.seq or yielded_at < self.started_us):
                    # Any producer can copy a header: an id this run never yielded (above the
                    # generator's last, or stamped before the run began) is not one of its values.
                    # Counted once per record: the verdict is kept with the header.
                    self.forged += 1
                else:
                    found = (src, seq, yielded_at)
        if found is not None and not keep:
            return found
        parsed = self._parsed
        if len(parsed) >= PARSED_LIMIT:
            # the oldest half goes: the newest were received and are still to be processed (headers
            # received and never processed: by no agent of this process, or lost in between)
            for old in list(itertools.islice(parsed, PARSED_LIMIT // 2)):
                parsed.pop(old, None)
        # kept as bytes and ints only: the collector stops following such a tuple at its first
        # collection, however long its message waits in Faust's buffers to be processed
        parsed[key] = None if found is None else (name, found[1], found[2])
        return found

    def record(self, cause: Cause, headers: Any, note: str = "", agent: str | None = None) -> None:
        """Count a loss genmon saw happen (a decode failure, a crash) against the value's id;
        ``note`` says what happened (``agent count raised KeyError('x')``), newest kept. What the
        hooks queued is counted first: whether the value was processed already depends on it."""
        with contextlib.suppress(Exception), self.ledger.lock:
            self.drain()
            found = self.from_headers(headers)
            if found is not None:
                if found[0].was_processed(found[1], agent):
                    return  # a copy of a value already processed: the value itself was not lost
                found[0].damaged[cause].add(found[1])
                if cause == Cause.CRASHED:  # an agent not known: whichever finishes it next
                    found[0].crashed_by.setdefault(agent or ANY_AGENT, BitMap()).add(found[1])
                if note:
                    found[0].notes[cause] = note
                origin = header_of(headers, ORIGIN)
                if origin is not None:  # a later hop's value: its origin died here too
                    self._died_downstream(origin, found[0].name, cause, note)

    def _died_downstream(self, origin: bytes | str, hop: str, cause: Cause, note: str) -> None:
        """The value whose origin is ``origin`` was lost at hop ``hop`` (a row's name) by ``cause``:
        the origin's row names it among the values that died downstream."""
        found = self.from_header(origin)
        if found is not None:
            src, seq, _ = found
            src.note_downstream(hop, cause, seq, note)

    def _crashed(self, agent: Any, exc: BaseException, events: list[Any]) -> None:
        """An agent raised while holding ``events`` (one, or a ``take()`` batch): each value it held
        is lost (Faust acks them all and restarts the agent)."""
        note = crash_note(agent, exc)
        owner = OWNER.get()
        if owner is not None:
            self.crash_notes[owner] = note
        name = str(getattr(agent, "name", "") or "?").rsplit(".", 1)[-1]
        self.agent_crashes.setdefault(owner, {})[name] = (note, time.time())
        for event in events:
            self.record(Cause.CRASHED, getattr(event, "headers", None), note, name)

    def _window(self, agent: Any, seconds: float) -> None:
        """``agent`` batches with ``take(…, within=seconds)``: a value may wait that long in its buffer."""
        if agent is None:
            return
        name = str(getattr(agent, "name", "") or "?").rsplit(".", 1)[-1]
        windows = self.agent_windows.setdefault(OWNER.get(), {})
        windows[name] = max(windows.get(name, 0.0), seconds)

    def windows_of(self, label: str | None) -> dict[str, float]:
        """agent -> the longest ``take()`` window it batches with (every run's, for ``None``)."""
        runs = list(self.agent_windows.values()) if label is None else [self.agent_windows.get(label, {})]
        found: dict[str, float] = {}
        for windows in runs:
            for agent, seconds in list(windows.items()):
                found[agent] = max(found.get(agent, 0.0), seconds)
        return found

    def _ended(self, agent: Any) -> None:
        """An agent's function returned: it reads nothing more, and what waits on its topic is stuck
        behind it, as behind an agent that raised (the same record, another note). An agent that
        raised before keeps its raise: Faust's restart of it can end at once, and the raise is why."""
        name = str(getattr(agent, "name", "") or "?").rsplit(".", 1)[-1]
        crashes = self.agent_crashes.setdefault(OWNER.get(), {})
        if name not in crashes:
            crashes[name] = (ended_note(name), time.time())

    def _unawaited(self, captured: tuple[Source, int, int] | None, hop: tuple[Any, Any] | None) -> None:
        """A send was dropped unawaited: it belonged to the value current when it was created — or,
        made by a hop (an agent's send: it never got an id of the hop's), it was the value the agent
        held, which dies downstream of its origin."""
        if captured is not None:
            self.damage(captured[0], captured[1], Cause.UNAWAITED)
        elif hop is not None:
            agent, event = hop
            origin = origin_in(getattr(event, "headers", None))
            if origin is not None:  # the agent held a followed value: it dies at the agent's hop
                name = str(getattr(agent, "name", "") or "?").rsplit(".", 1)[-1]
                with self.ledger.lock:
                    self._died_downstream(origin, f"{name}()", Cause.UNAWAITED, "")

    def damage(self, src: Source, seq: int, cause: Cause, note: str = "") -> None:
        """Count a loss of ``seq`` that no header names (the value is known from the hook's state);
        ``note`` says what happened, newest kept."""
        with self.ledger.lock:
            if seq > src.floor:
                src.damaged[cause].add(seq)
                if note:
                    src.notes[cause] = note

    def _send_raised(self, captured: tuple[Source, int, int] | None, topic: str, exc: BaseException) -> None:
        """``Topic.send`` raised for a tracked value: before the producer took it (the codec could
        not serialize it: never sent), or after (the producer refused it, e.g. over its size limit:
        sent, never acknowledged). For a hop (an agent's send: no tracked value), the value it was
        making dies downstream of its origin."""
        if captured is None:
            named = self._sender_name(3)
            origin = self._current_origin()
            if named is not None and origin is not None:
                note = f"send raised {shortened(one_line(root_error(exc)), NOTE_LIMIT)}"
                with self.ledger.lock:
                    self._died_downstream(origin, named[0], Cause.SEND_RAISED, note)
            return
        src, seq, _ = captured
        with self.ledger.lock:
            self.drain()
            ids = src.sent_by.get(topic)
            sent = ids is not None and seq in ids.ids
        cause = Cause.SEND_FAILED if sent else Cause.SEND_RAISED
        self.damage(src, seq, cause, f"send raised {shortened(one_line(root_error(exc)), NOTE_LIMIT)}")

    def _channel_send(self, channel: Any, message: Any) -> tuple[Source, int, str] | None:
        return self._send_to_channel(self, channel, message)

    def _channel_put(self, state: tuple[Source, int, str]) -> None:
        """The channel's queues took the value: for a channel, that is its "acked" (no partition,
        no offset: nothing orders a channel's values)."""
        acked = self.ledger.acked
        acked.extend(state)
        acked.extend(NOWHERE)

    def _buffered(self, message: Any, captured: tuple[Source, int, int] | None) -> None:
        """``send_soon`` buffered ``message``: remember whose value it is for the send hook, which
        runs later in Faust's producer task. Untracked code gets its sender identity now, while its
        frames are on the stack."""
        found = self._identify(self, message.channel.get_topic_name(), captured, skip=3)
        if found is not None:
            self.soon[id(message)] = (message, found)

    def _after_send(self) -> Any:
        """After a send, a paused sync generator waits here (its consumer's next send), on the
        loop, without blocking it: the value already yielded still travels."""
        current = CURRENT.get()
        if current is None or current[0].on:
            return None
        src = current[0]
        return _wait_until(lambda: src.on or _active is not self)

    # -- reading (any thread) ------------------------------------------------------------------
    def read_sources(self, latency: bool = True) -> tuple[SourceState, ...]:
        """Every source of this process, then what it saw of other processes' sources (``latency``:
        see :meth:`Source.read`)."""
        self.drain()
        own = [src.read(latency) for src in list(self.sources.values())]
        return (*own, *(src.read(latency) for src in list(self.foreign.values())))

    def crashes_of(self, label: str | None) -> dict[str, tuple[str, float]]:
        """Each agent's latest crash in app run ``label`` (None: in every run — a plain ``faust
        worker`` holds one app)."""
        runs = list(self.agent_crashes.values()) if label is None else [self.agent_crashes.get(label, {})]
        out: dict[str, tuple[str, float]] = {}
        for crashes in runs:
            for agent, (note, at) in list(crashes.items()):
                if agent not in out or at > out[agent][1]:
                    out[agent] = (note, at)
        return out

    def read_inbound(self) -> dict[str, InboundState]:
        self.drain()
        return {topic: inbound.read() for topic, inbound in list(self.inbound.items())}

    # -- commands ------------------------------------------------------------------------------
    def set_on(self, names: Iterable[str] | None, on: bool) -> None:
        """Switch tracked generators (any thread: a bool the wrapper reads before each value)."""
        for src in self._select(names):
            if src.kind.switchable:
                src.on = on

    def reset_inbound(self) -> None:
        """Zero the counts of untracked messages (any thread: one dict is swapped for a new one)."""
        self.inbound = {}

    def _select(self, names: Iterable[str] | None) -> list[Source]:
        if names is None:
            return list(self.sources.values())
        return [self.sources[n] for n in names if n in self.sources]


def _is_number(raw: bytes, digits: int) -> bool:
    """ASCII digits, at most ``digits`` of them: an id (32 bits: 10) or a time in µs (20). A
    header anyone can write may hold thousands of digits, which ``int`` refuses (and would be slow
    to take)."""
    return 0 < len(raw) <= digits and raw.isdigit() and raw.isascii()


NOTE_LIMIT = 160
"""Characters of an exception's message a note keeps: enough to name it, never a screenful."""


def shortened(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


ANY_AGENT = "*"
"""``Source.crashed_by``'s key for a crash whose agent is not known."""


def crash_note(agent: Any, exc: BaseException) -> str:
    """``agent count_words raised KeyError('OH NO')``: the agent's short name and the error behind
    any wrapper (see :func:`genmon.model.text.root_error`)."""
    name = str(getattr(agent, "name", "") or "?").rsplit(".", 1)[-1]
    return f"agent {name} raised {root_error(exc)!r}"


async def _wait_until(condition: Any) -> None:
    while not condition():
        await asyncio.sleep(PAUSE_POLL_SECONDS)


def in_event_loop() -> bool:
    """True when called from a thread that is running an asyncio loop (blocking it would stall it)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
