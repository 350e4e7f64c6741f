"""The Faust sensor that moves values' ids from stage to stage.

One hook per event it observes, like ``faust.sensors.Monitor``. Every hook is wrapped in a
``try`` because an exception in a sensor hook crashes the user's agent (DESIGN rule 3); the
cost per value is a header lookup, a bitmap insert and, once processed, a histogram entry.
"""

from __future__ import annotations

import time
from typing import Any

from faust.agents.agent import current_agent
from faust.sensors import Sensor

from genmon.probe.runtime import CURRENT, HEADER, Probe
from genmon.probe.source import LATENCY_MAX_US


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
                return None
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
            elif isinstance(headers, list):
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
            found = self.probe.from_headers(message.headers)
            if found is not None:
                found[0].note_received(found[1], tp.topic, tp.partition)
        except Exception:
            pass

    def on_stream_event_out(self, tp: Any, offset: int, stream: Any, event: Any, state: Any = None) -> None:
        try:
            found = self.probe.from_headers(event.headers)
            if found is None:
                return
            src, seq, yielded_at = found
            if seq in src.damaged["crashed"].ids:
                return  # the agent raised on it: this hook fires anyway, from a ``finally``
            src.processed_by(self._agent_name()).add(seq)
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
