"""The Faust sensor that moves values' ids from stage to stage.

One hook per event it observes, like ``faust.sensors.Monitor``. Every hook is wrapped in a
``try`` because an exception in a sensor hook crashes the user's agent (DESIGN rule 3); the
cost per value is a header lookup and a bitmap insert.
"""

from __future__ import annotations

from typing import Any

from faust.agents.agent import current_agent
from faust.sensors import Sensor

from genmon.probe.runtime import CURRENT, HEADER, Probe
from genmon.probe.source import Source


def _header(headers: Any) -> bytes | None:
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


class GenmonSensor(Sensor):
    """Counts sent / acked / send-failed / received / processed for tracked values."""

    def __init__(self, probe: Probe, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.probe = probe
        self._agent_names: dict[int, str] = {}

    def _value_of(self, headers: Any) -> tuple[Source, int] | None:
        raw = _header(headers)
        if raw is None:
            return None
        found = self.probe.by_header(raw)
        if found is None or found[1] <= found[0].floor:
            return None
        return found

    # -- producer side ---------------------------------------------------------------------
    def on_send_initiated(self, producer: Any, topic: str, message: Any, keysize: int, valsize: int) -> Any:
        try:
            current = CURRENT.get()
            if current is None:
                return None
            src, seq = current
            if seq <= src.floor or self.probe.sources.get(src.name) is not src:
                return None
            src.sent.add(seq)
            if topic not in src.topics:
                src.topics[topic] = None
            headers = message.headers
            stamp = src.header_value_prefix + str(seq).encode()
            if isinstance(headers, dict):
                headers[HEADER] = stamp
            elif isinstance(headers, list):
                headers.append((HEADER, stamp))
            return (src, seq)
        except Exception:
            return None

    def on_send_completed(self, producer: Any, state: Any, metadata: Any) -> None:
        try:
            if state is not None:
                src, seq = state
                if seq > src.floor:
                    src.acked.add(seq)
        except Exception:
            pass

    def on_send_error(self, producer: Any, exc: BaseException, state: Any) -> None:
        try:
            if state is not None:
                src, seq = state
                if seq > src.floor:
                    src.send_failed.add(seq)
        except Exception:
            pass

    # -- consumer side ---------------------------------------------------------------------
    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        try:
            found = self._value_of(message.headers)
            if found is not None:
                found[0].received.add(found[1])
        except Exception:
            pass

    def on_stream_event_out(self, tp: Any, offset: int, stream: Any, event: Any, state: Any = None) -> None:
        try:
            found = self._value_of(event.headers)
            if found is not None:
                found[0].processed_by(self._agent_name()).add(found[1])
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
