"""The Faust sensor that moves values' ids from stage to stage.

One hook per event it observes, like ``faust.sensors.Monitor``. Every hook is wrapped in a
``try`` because an exception in a sensor hook crashes the user's agent (docs/ARCHITECTURE.md,
"Hooks are cheap and never raise"); the cost per value is a header lookup, a bitmap insert and,
once processed, a histogram entry.
"""

from __future__ import annotations

import time
import weakref
from typing import Any

from faust.agents.agent import current_agent
from faust.sensors import Sensor

from genmon.model import Cause
from genmon.model.vocabulary import REPLIES
from genmon.probe.runtime import CURRENT, HEADER, Probe
from genmon.probe.source import Source, StageIds
from genmon.probe.touchpoints import channel_name, sender_frame, stamp_header

_names: dict[Any, tuple[str, str]] = {}
CRASHED, SEND_FAILED = Cause.CRASHED, Cause.SEND_FAILED  # module constants: a member look-up costs ~0.1 µs


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
        return src, src.next_seq(), time.time_ns() // 1000
    src, seq, _ = current
    if seq <= src.floor or probe.sources.get(src.name) is not src:
        return None
    return current


def channel_send(probe: Probe, channel: Any, message: Any) -> tuple[Source, int, str] | None:
    """An in-memory channel delivers ``message``: the same steps as a send to a topic, under the
    channel's name (see :func:`~genmon.probe.touchpoints.channel_name`)."""
    name = channel_name(channel.app, channel)
    found = identify(probe, name, CURRENT.get())
    if found is None:
        return None
    return mark_sent(found, name, message)


def mark_sent(found: tuple[Source, int, int], topic: str, message: Any) -> tuple[Source, int, str]:
    """Count the value as sent to ``topic`` and put its id into the message's headers."""
    src, seq, yielded_at = found
    sent = src.sent_by.get(topic)
    if sent is None:
        sent = src.sent_by[topic] = StageIds()
        src.topics[topic] = None
    sent.add(seq)
    stamp_header(message, HEADER, src.header_value_prefix + b"%d:%d" % (seq, yielded_at))
    return (src, seq, topic)


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
    """Counts sent / acked / send-failed / received / processed for tracked values."""

    def __init__(self, probe: Probe, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.probe = probe
        self._agent_names: dict[int, str] = {}
        self._unacked_seen: weakref.WeakSet[Any] = weakref.WeakSet()

    # -- producer side ---------------------------------------------------------------------
    def on_send_initiated(self, producer: Any, topic: str, message: Any, keysize: int, valsize: int) -> Any:
        try:
            soon = self.probe.soon
            buffered = soon.pop(id(message), None) if soon else None
            if buffered is not None and buffered[0] is message:
                found = buffered[1]  # send_soon: identified when it was buffered
            else:
                found = identify(self.probe, topic, CURRENT.get())
            return None if found is None else mark_sent(found, topic, message)
        except Exception:
            return None

    def on_send_completed(self, producer: Any, state: Any, metadata: Any) -> None:
        try:
            if state is not None and state[1] > state[0].floor:
                src = state[0]
                src.stage_on(src.acked_by, state[2]).add(state[1])
        except Exception:
            pass

    def on_send_error(self, producer: Any, exc: BaseException, state: Any) -> None:
        try:
            if state is not None and state[1] > state[0].floor:
                state[0].damaged[SEND_FAILED].add(state[1])
        except Exception:
            pass

    # -- consumer side ---------------------------------------------------------------------
    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        try:  # noqa: SIM105 -- a hot path: try costs nothing, contextlib.suppress does
            self._received(tp.topic, tp.partition, message)
        except Exception:
            pass

    def _received(self, topic: str, partition: int, message: Any) -> None:
        consumed = self.probe.consumed
        if topic not in consumed:
            consumed[topic] = None
        found = self.probe.from_headers(message.headers)
        if found is not None:
            found[0].note_received(found[1], topic, partition)
        else:
            self.probe.inbound_for(topic).received += 1

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> Any:
        """Faust calls ``on_message_in`` only for topics that ack (``Stream.__aiter__`` checks
        ``app.topics.acking_topics``): a message of an ``acks=False`` topic, or of an in-memory
        channel (no topic at all), is counted here, once however many streams read it (the message
        is the same object for each)."""
        try:
            topic = tp.topic
            if topic is not None and topic in stream.app.topics.acking_topics:
                return None
            message = event.message
            seen = self._unacked_seen
            if message not in seen:
                seen.add(message)
                if topic is None:
                    topic = channel_name(stream.app, stream.channel)
                self._received(topic, tp.partition or 0, message)
        except Exception:
            pass
        return None

    def on_stream_event_out(self, tp: Any, offset: int, stream: Any, event: Any, state: Any = None) -> None:
        try:
            topic = tp.topic if tp.topic is not None else channel_name(stream.app, stream.channel)
            found = self.probe.from_headers(event.headers)
            if found is None:
                inbound = self.probe.inbound_for(topic)
                agent = self._agent_name(stream, topic)
                inbound.processed[agent] = inbound.processed.get(agent, 0) + 1
                return
            src, seq, yielded_at = found
            if seq in src.damaged[CRASHED].ids:
                return  # the agent raised on it: this hook fires anyway, from a ``finally``
            if src.processed_by(topic, self._agent_name(stream, topic)).add(seq):
                # a redelivered or copied value is not new: its latency was measured the first time
                src.note_latency(time.time_ns() // 1000 - yielded_at)
        except Exception:
            pass

    def _agent_name(self, stream: Any, topic: str) -> str:
        agent = current_agent()
        if agent is None:
            # Faust's ReplyConsumer reads the app's reply topic (agent.ask/map/join): no agent,
            # but not unknown either.
            return REPLIES if topic == str(getattr(stream.app.conf, "reply_to", "")) else "?"
        key = id(agent)
        name = self._agent_names.get(key)
        if name is None:
            name = self._agent_names[key] = agent.name.rsplit(".", 1)[-1]
        return name
