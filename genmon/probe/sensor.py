"""The Faust sensor that moves values' ids from stage to stage.

One hook per event it observes, like ``faust.sensors.Monitor``. Every hook is wrapped in a
``try`` because an exception in a sensor hook crashes the user's agent (docs/ARCHITECTURE.md,
"Hooks are cheap and never raise"); the cost per value is a header lookup, a bitmap insert and,
once processed, a histogram entry.
"""

from __future__ import annotations

import time
from typing import Any

from faust.agents.agent import current_agent
from faust.sensors import Sensor

from genmon.model import Cause
from genmon.probe.runtime import CURRENT, HEADER, Probe
from genmon.probe.source import LATENCY_MAX_US
from genmon.probe.touchpoints import sender_frame, stamp_header

_names: dict[Any, tuple[str, str]] = {}
CRASHED, SEND_FAILED = Cause.CRASHED, Cause.SEND_FAILED  # module constants: a member look-up costs ~0.1 µs


def sender_name() -> tuple[str, str] | None:
    """``(row name, function)`` of the code that called ``send``: the agent, or the first frame up
    the stack that is not a library's or genmon's own. None for Faust's own sends (table changelogs
    from the producer buffer): no user code to name, nothing to follow."""
    agent = current_agent()
    if agent is not None:
        short = agent.name.rsplit(".", 1)[-1]
        return f"{short}()", agent.name
    found = sender_frame(3)
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

    # -- producer side ---------------------------------------------------------------------
    def on_send_initiated(self, producer: Any, topic: str, message: Any, keysize: int, valsize: int) -> Any:
        try:
            current = CURRENT.get()
            if current is None:
                # Not a tracked generator's value: the sending code (a task, a timer, an agent
                # forwarding) becomes a source of its own, and this send its next value.
                named = sender_name()
                if named is None or topic.endswith("-changelog"):
                    return None
                src = self.probe.sender(*named)
                seq, yielded_at = src.next_seq(), time.time_ns() // 1000
            else:
                src, seq, yielded_at = current
                if seq <= src.floor or self.probe.sources.get(src.name) is not src:
                    return None
            src.sent.add(seq)
            if topic not in src.topics:
                src.topics[topic] = None
            stamp_header(message, HEADER, src.header_value_prefix + b"%d:%d" % (seq, yielded_at))
            return (src, seq)
        except Exception:
            return None

    def on_send_completed(self, producer: Any, state: Any, metadata: Any) -> None:
        try:
            if state is not None and state[1] > state[0].floor:
                state[0].acked.add(state[1])
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
        try:
            consumed = self.probe.consumed
            if tp.topic not in consumed:
                consumed[tp.topic] = None
            found = self.probe.from_headers(message.headers)
            if found is not None:
                found[0].note_received(found[1], tp.topic, tp.partition)
            else:
                self.probe.inbound_for(tp.topic).received += 1
        except Exception:
            pass

    def on_stream_event_out(self, tp: Any, offset: int, stream: Any, event: Any, state: Any = None) -> None:
        try:
            found = self.probe.from_headers(event.headers)
            if found is None:
                inbound = self.probe.inbound_for(tp.topic)
                agent = self._agent_name()
                inbound.processed[agent] = inbound.processed.get(agent, 0) + 1
                return
            src, seq, yielded_at = found
            if seq in src.damaged[CRASHED].ids:
                return  # the agent raised on it: this hook fires anyway, from a ``finally``
            src.processed_by(tp.topic, self._agent_name()).add(seq)
            latency = time.time_ns() // 1000 - yielded_at
            src.latency.record_value(min(max(latency, 1), LATENCY_MAX_US))
        except Exception:
            pass

    def _agent_name(self) -> str:
        agent = current_agent()
        if agent is None:
            return "?"
        key = id(agent)
        name = self._agent_names.get(key)
        if name is None:
            name = self._agent_names[key] = agent.name.rsplit(".", 1)[-1]
        return name
