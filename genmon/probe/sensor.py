"""The Faust sensor that sees values move from stage to stage.

One hook per event it observes, like ``faust.sensors.Monitor``. Every hook is wrapped in a
``try`` because an exception in a sensor hook crashes the user's agent (docs/ARCHITECTURE.md,
"Hooks are cheap and never raise"). A send is identified and its header stamped in the hook (the
message leaves right after); everything else a hook sees is appended to the probe's ledger and
counted later, off Faust's hot path (:mod:`genmon.probe.ledger`).
"""

from __future__ import annotations

import weakref
from time import time_ns
from typing import Any

from faust.agents.agent import current_agent
from faust.sensors import Sensor
from faust.streams import current_event

from genmon.model import Cause
from genmon.model.text import one_line, root_error
from genmon.probe.ledger import BACKLOG
from genmon.probe.runtime import (
    CURRENT,
    HEADER,
    NOTE_LIMIT,
    ORIGIN,
    OWNER,
    Probe,
    header_of,
    origin_in,
    shortened,
)
from genmon.probe.source import Source
from genmon.probe.touchpoints import channel_name, current_agent_var, sender_frame, stamp_header

_names: dict[Any, tuple[str, str]] = {}
CURRENT_AGENT = current_agent_var()


def identify(
    probe: Probe, topic: str, current: tuple[Source, int, int] | None, skip: int = 4
) -> tuple[Source, int, int] | None:
    """Which value a send to ``topic`` carries: ``current`` (a tracked generator's value), or —
    for code that is not a tracked generator (a task, a timer, an agent forwarding) — the next id
    of a source named after that code. None for Faust's own sends (table changelogs) and for ids
    from before a reset."""
    if current is None:
        named = sender_name(skip)
        if named is None or topic.endswith("-changelog"):
            return None
        src = probe.sender(*named)
        return src, src.next_seq(), time_ns() // 1000
    src, seq, _ = current
    if seq <= src.floor or probe.sources.get(src.name) is not src:
        return None
    return current


def channel_send(probe: Probe, channel: Any, message: Any) -> tuple[Source, int, str] | None:
    """An in-memory channel delivers ``message``: the same steps as a send to a topic, under the
    channel's name (see :func:`~genmon.probe.touchpoints.channel_name`)."""
    name = channel_name(channel.app, channel)
    current = CURRENT.get()
    found = identify(probe, name, current)
    if found is None:
        return None
    return mark_sent(probe, found, name, message, current_origin() if current is None else None)


def current_origin() -> bytes | str | None:
    """The origin of the event the running agent holds (see ``ORIGIN``), or None outside one."""
    event = current_event()
    return None if event is None else origin_in(event.headers)


def current_hop() -> tuple[Any, Any] | None:
    """``(the agent, the event it holds)`` when an agent sends while holding an event: two context
    variables, on every agent's send. Whose value it was is read from the event only if the send is
    dropped unawaited (see ``Probe._unawaited``)."""
    event = current_event()
    agent = current_agent() if event is not None else None
    return None if agent is None else (agent, event)


def mark_sent(
    probe: Probe, found: tuple[Source, int, int], topic: str, message: Any, origin: bytes | str | None = None
) -> tuple[Source, int, str]:
    """Put the value's id (and, for a hop, its origin) into the message's headers and queue it as
    sent to ``topic``; the ``(source, id, topic)`` returned comes back with the ack."""
    src, seq, yielded_at = found
    value = src.header_value_prefix + b"%d:%d" % (seq, yielded_at)
    headers = message.headers
    if isinstance(headers, dict):  # Faust's own or the sender's (the usual case): one frame less
        headers[HEADER] = value
        if origin is not None:
            headers[ORIGIN] = origin
            src.made(seq, origin, yielded_at)
    else:
        stamp_header(message, HEADER, value)
        if origin is not None:
            stamp_header(message, ORIGIN, origin if isinstance(origin, bytes) else origin.encode())
            src.made(seq, origin, yielded_at)
    state = (src, seq, topic)
    sent = probe.ledger.sent
    sent.extend(state)
    if len(sent) > BACKLOG:
        probe.drain()
    return state


def sender_name(skip: int = 4) -> tuple[str, str] | None:
    """``(row name, function)`` of the code that called ``send``: the agent, or the outermost
    function of the user's code on the stack (see ``sender_frame``). None for Faust's own sends
    (table changelogs from the producer buffer): no user code to name, nothing to follow."""
    agent = current_agent()
    if agent is not None:
        short = agent.name.rsplit(".", 1)[-1]
        return f"{short}()", agent.name
    found = sender_frame(skip)
    if found is None:
        return None
    code, module = found
    named = _names.get(code)
    if named is None:
        qualname = getattr(code, "co_qualname", code.co_name)
        named = _names[code] = (f"{code.co_name}()", f"{module}.{qualname}")
    return named


class GenmonSensor(Sensor):
    """Sees sent / acked / send-failed / received / processed for tracked values."""

    def __init__(self, probe: Probe, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.probe = probe
        self.owner = OWNER.get()
        """The app run this sensor's app belongs to (the sensor is added on its loop)."""
        ledger = probe.ledger
        self._acked, self._received, self._processed = ledger.acked, ledger.received, ledger.processed
        self._acking: set[str] | None = None
        self._unacked_seen: weakref.WeakSet[Any] = weakref.WeakSet()

    # -- producer side ---------------------------------------------------------------------
    def on_send_initiated(self, producer: Any, topic: str, message: Any, keysize: int, valsize: int) -> Any:
        try:
            probe = self.probe
            if probe.soon:
                buffered = probe.soon.pop(id(message), None)
                if buffered is not None and buffered[0] is message:
                    # send_soon: identified when it was buffered
                    return None if buffered[1] is None else mark_sent(probe, buffered[1], topic, message)
            current = CURRENT.get()
            if current is None:  # not a tracked generator's value: the sender gets an id of its own
                found = identify(probe, topic, None)
                # a hop (an agent sending while it holds an event): the value keeps its origin
                return None if found is None else mark_sent(probe, found, topic, message, current_origin())
            # A tracked value (the usual case): ``identify``'s check written out here, one Python
            # frame less per send, the hottest hook's largest share (bench/probe_overhead.py --in-place)
            src, seq, _ = current
            if seq <= src.floor or probe.sources.get(src.name) is not src:
                return None
            return mark_sent(probe, current, topic, message)
        except Exception:
            return None

    def on_send_completed(self, producer: Any, state: Any, metadata: Any) -> None:
        try:
            if state is not None:
                acked = self._acked
                acked.extend(state)
                acked.append(metadata.partition)
                acked.append(metadata.offset)
        except Exception:
            pass

    def on_send_error(self, producer: Any, exc: BaseException, state: Any) -> None:
        try:
            if state is not None:
                note = f"delivery failed: {shortened(one_line(root_error(exc)), NOTE_LIMIT)}"
                self.probe.damage(state[0], state[1], Cause.SEND_FAILED, note)
        except Exception:
            pass

    # -- consumer side ---------------------------------------------------------------------
    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        try:
            received = self._received
            received.extend((tp.topic, tp.partition, offset, header_of(message.headers), self.owner))
            if len(received) > BACKLOG:
                self.probe.drain()
        except Exception:
            pass

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> Any:
        """Faust calls ``on_message_in`` only for topics that ack (``Stream.__aiter__`` checks
        ``app.topics.acking_topics``, one set for the app's life): a message of an ``acks=False``
        topic, or of an in-memory channel (no topic at all), is queued here, once however many
        streams read it (the message is the same object for each)."""
        try:
            topic = tp.topic
            acking = self._acking
            if acking is None:
                acking = self._acking = stream.app.topics.acking_topics
            if topic is not None and topic in acking:
                return None
            message = event.message
            seen = self._unacked_seen
            if message not in seen:
                seen.add(message)
                if topic is None:
                    topic = channel_name(stream.app, stream.channel)
                at = -1 if offset is None else offset  # a channel's messages have no offset
                self._received.extend((topic, tp.partition or 0, at, header_of(message.headers), self.owner))
        except Exception:
            pass
        return None

    def on_stream_event_out(self, tp: Any, offset: int, stream: Any, event: Any, state: Any = None) -> None:
        try:
            processed = self._processed
            processed.extend((tp.topic, stream, header_of(event.headers), CURRENT_AGENT.get(None), time_ns()))
            if len(processed) > BACKLOG:
                self.probe.drain()
        except Exception:
            pass
