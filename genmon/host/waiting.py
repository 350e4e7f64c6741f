"""Waiting on a monitor's snapshots: until a condition holds, or until the pipelines are quiet."""

from __future__ import annotations

import time
from collections.abc import Callable

from genmon.model import Monitor, RowKind, Snapshot


def wait_for(monitor: Monitor, predicate: Callable[[Snapshot], bool], timeout: float) -> Snapshot:
    """Poll snapshots until ``predicate`` holds; return the last one either way."""
    deadline = time.monotonic() + timeout
    snap = monitor.snapshot()
    while not predicate(snap) and time.monotonic() < deadline:
        time.sleep(0.1)
        snap = monitor.snapshot()
    return snap


def wait_settled(monitor: Monitor, quiet: float = 2.0, limit: float = 30.0, poll: float = 0.1) -> bool:
    """Block until no count of a switchable row changed for ``quiet`` seconds (True), or ``limit``
    passed (False).

    Senders genmon cannot pause (a timer, a task) may never go quiet: they are judged by whether
    they are still moving when the final snapshot is built (see ``FINAL_QUIET_SECONDS``), not
    waited for here.
    """
    deadline = time.monotonic() + limit
    last: tuple[object, ...] | None = None
    since = time.monotonic()
    while time.monotonic() < deadline:
        reading = tuple(
            (p.name, p.counts.as_tuple(), tuple(ids.count for ids in p.damaged.values()))
            for p in monitor.snapshot().pipelines
            if p.kind not in (RowKind.SENDER, RowKind.TOPIC)
        )
        now = time.monotonic()
        if reading != last:
            last, since = reading, now
        elif now - since >= quiet:
            return True
        time.sleep(poll)
    return False
