"""The control topic's record: the desired state of a tracked generator, as the watcher writes it and
every worker reads it (``genmon-control``; docs/FLEET.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from genmon.model.wire import WireError

CONTROL_FORMAT = 1
"""Control records (unchanged since the first)."""


RESET = "#reset"
"""The control record's name for "count from now" (no generator is named so: ``#`` is no identifier)."""


EVERY = "*"
"""The control record's name for every tracked generator of the app."""


@dataclass(frozen=True)
class ControlRecord:
    """One desired state on the control topic: a state, not an event, so a worker that starts later,
    or a generator that first appears later, obeys it. Keyed ``app_id/name``: compaction keeps the newest."""

    app_id: str
    name: str
    """A tracked generator's name, ``*`` (all of them) or ``#reset``."""
    on: bool
    stamp: int
    """Nanoseconds since the epoch on the writer's clock: the newer of a name's and ``*`` wins."""

    @property
    def key(self) -> bytes:
        return f"{self.app_id}/{self.name}".encode()

    def encode(self) -> bytes:
        return json.dumps({"format": CONTROL_FORMAT, "on": self.on, "stamp": self.stamp}).encode()

    @classmethod
    def decode(cls, key: bytes | None, value: bytes | None) -> ControlRecord:
        try:
            app_id, _, name = (key or b"").decode().rpartition("/")
            doc = json.loads(value or b"")
            if not app_id or not name or doc.get("format") != CONTROL_FORMAT:
                raise ValueError("not genmon's control record")
            return cls(app_id, name, bool(doc["on"]), int(doc["stamp"]))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, AttributeError) as exc:
            raise WireError(f"not a genmon control record: {exc}") from None
