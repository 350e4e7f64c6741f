"""The Faust sensor that moves values' ids from stage to stage.

One hook per event it observes, like ``faust.sensors.Monitor``. Every hook is wrapped in a
``try`` because an exception in a sensor hook crashes the user's agent (DESIGN rule 3); the
cost per value is a header lookup, a bitmap insert and, once processed, a histogram entry.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from faust.agents.agent import current_agent
from faust.sensors import Sensor

from genmon.probe.runtime import CURRENT, HEADER, Probe
from genmon.probe.source import LATENCY_MAX_US

_LIBRARIES = ("faust.", "mode.", "aiokafka.", "genmon.probe", "genmon.host", "asyncio", "contextlib")
_names: dict[Any, tuple[str, str]] = {}


def sender_name() -> tuple[str, str] | None:
    """``(name, function)`` of the code that called ``send``: the agent, or the first frame up
    the stack that is not Faust's, mode's, aiokafka's, asyncio's or genmon's own. None for Faust's
    own sends (table changelogs from the producer buffer): no user code to name, nothing to follow."""
    agent = current_agent()
    if agent is not None:
        short = agent.name.rsplit(".", 1)[-1]
        return f"{short}()", agent.name
    frame = sys._getframe(2)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not module.startswith(_LIBRARIES):
            code = frame.f_code
            named = _names.get(code)
            if named is None:
                qualname = getattr(code, "co_qualname", code.co_name)
                named = _names[code] = (f"{code.co_name}()", f"{module}.{qualname}")
            return named
        frame = frame.f_back
    return None


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
            headers = message.headers
            stamp = src.header_value_prefix + b"%d:%d" % (seq, yielded_at)
            if isinstance(headers, dict):
                headers[HEADER] = stamp
            elif isinstance(headers, list):  # a forwarded event carries the upstream id: replace it
                headers[:] = [(k, v) for k, v in headers if k != HEADER]
                headers.append((HEADER, stamp))
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
                state[0].damaged["send_failed"].add(state[1])
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
            if seq in src.damaged["crashed"].ids:
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
