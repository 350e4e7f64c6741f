"""The fleet's switches as one worker obeys them: the desired state of each tracked generator.

The control topic holds a state per generator (and ``*`` for all of a app's generators), not
events: whichever of a generator's own switch and ``*`` is newer wins, and a generator that first
appears later (or a worker that starts later) obeys the same state at once. Used by the in-process
host (:class:`genmon.host.Host`) and by the probe attached to a plain ``faust worker``
(:mod:`genmon.fleet.fixup`).
"""

from __future__ import annotations

from collections.abc import Callable

from genmon.model.control_record import EVERY, ControlRecord
from genmon.probe.source import Source


class Switchboard:
    """``app_id_of(source)``: the app a source belongs to (None: not known yet, obey later)."""

    def __init__(self, app_id_of: Callable[[Source], str | None]) -> None:
        self.app_id_of = app_id_of
        self.wanted: dict[tuple[str, str], tuple[bool, int]] = {}
        """(app id, generator or ``*``) -> (on, stamp)"""

    def want(self, record: ControlRecord) -> bool:
        """Keep ``record`` if it is the newest for its name; True when it changed the desired state."""
        key = (record.app_id, record.name)
        known = self.wanted.get(key)
        if known is not None and known[1] > record.stamp:
            return False
        self.wanted = {**self.wanted, key: (record.on, record.stamp)}
        return True

    def obey(self, src: Source) -> None:
        """Set the source's switch to the desired state, if there is one (any thread: a bool)."""
        if not self.wanted or not src.kind.switchable:
            return
        app_id = self.app_id_of(src)
        if app_id is None:
            return
        own, every = self.wanted.get((app_id, src.name)), self.wanted.get((app_id, EVERY))
        newest = max((w for w in (own, every) if w is not None), key=lambda w: w[1], default=None)
        if newest is not None:
            src.on = newest[0]
