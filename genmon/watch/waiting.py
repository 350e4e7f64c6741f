"""Waiting on a monitor's snapshots: until a condition holds, or until the pipelines have drained."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from genmon.model import Monitor, PipelineSnapshot, Proof, RowKind, Snapshot, VerdictState

STILL_SECONDS = 1.0
"""Nothing counted for this long (and nothing in flight) before a run is called drained: a paused
generator may still hand over the value it was making."""
PRODUCING_SECONDS = 1.0
"""A row whose first stage moved this recently is still producing (a timer or task genmon cannot
pause): it is judged as running, not waited for."""


BROKER_WAIT_SECONDS = 3.0
"""How long the wait goes on once the broker does not answer: values cannot drain through it."""


def drain_limit(settle_seconds: float) -> float:
    """How long ``check``/``--headless`` wait for pipelines to drain after pausing: 30 s plus six
    settle timeouts (60 s at the default 5 s), so a slower ``--settle`` also waits longer."""
    return 30.0 + 6.0 * settle_seconds


def wait_for(monitor: Monitor, predicate: Callable[[Snapshot], bool], timeout: float) -> Snapshot:
    """Poll snapshots until ``predicate`` holds; return the last one either way."""
    deadline = time.monotonic() + timeout
    snap = monitor.snapshot()
    while not predicate(snap) and time.monotonic() < deadline:
        time.sleep(0.1)
        snap = monitor.snapshot()
    return snap


@dataclass(frozen=True)
class Drained:
    """The outcome of :func:`wait_settled`: true when every pipeline drained in time."""

    draining: tuple[str, ...] = ()
    """Rows still moving values towards their last stage when the limit was hit."""
    waited: float = 0.0

    def __bool__(self) -> bool:
        return not self.draining


def _draining(pipe: PipelineSnapshot) -> bool:
    """Values between its first and last stage that are not lost yet: the settle rule still
    counts them in flight because a later stage moved within the settle timeout."""
    v = pipe.verdict
    state = v.state
    if state == VerdictState.LOST and v.proof == Proof.SEEN and v.in_flight:
        # losses seen at a stage, and more values missing there that may still come (an agent
        # Faust restarts after a crash reads on after a pause): the row is not done yet
        return True
    return pipe.kind != RowKind.TOPIC and (
        state == VerdictState.IN_FLIGHT or (state == VerdictState.PAUSED and v.in_flight > 0)
    )


def wait_settled(
    monitor: Monitor, limit: float = 60.0, poll: float = 0.1, between: Callable[[], None] = lambda: None
) -> Drained:
    """Block until no pipeline is draining and nothing was counted for ``STILL_SECONDS``, or until
    ``limit`` seconds passed; return which rows were still draining (none: drained).

    Verdicts are the monitor's own (one settle rule: a shortfall is lost once its stage was still
    for the settle timeout), so a slow consumer is waited for as long as it keeps consuming, and a
    real loss ends the wait one settle timeout after the last value moved. Rows that keep
    producing (a timer, a task genmon cannot pause) are judged as they are, not waited for.
    ``between`` runs before each poll (the session's: end the wait when a signal came).
    """
    started = time.monotonic()
    deadline = started + limit
    heads: dict[str, tuple[int, float]] = {}
    last: tuple[object, ...] | None = None
    since = started
    draining: tuple[str, ...] = ()
    down_since = float("inf")
    while True:
        between()
        snap = monitor.snapshot()
        now = time.monotonic()
        for pipe in snap.pipelines:
            head = pipe.counts.yielded if pipe.kind != RowKind.SENDER else pipe.counts.sent
            seen = heads.get(pipe.name)
            if seen is None or seen[0] != head:
                heads[pipe.name] = (head, now)
        producing = {
            name
            for name, (_, at) in heads.items()
            if now - at < PRODUCING_SECONDS and now - started >= PRODUCING_SECONDS
        }
        draining = tuple(p.name for p in snap.pipelines if _draining(p) and p.name not in producing)
        reading = tuple(
            (p.name, p.counts.as_tuple(), tuple(ids.count for ids in p.damaged.values()))
            for p in snap.pipelines
            if p.name not in producing and p.kind != RowKind.TOPIC
        )
        if reading != last:
            last, since = reading, now
        if not draining and now - since >= STILL_SECONDS:
            return Drained((), now - started)
        down_since = float("inf") if snap.broker.up else min(down_since, now)
        if now - down_since >= BROKER_WAIT_SECONDS:  # nothing drains through a broker that is away
            return Drained(draining, now - started)
        if now >= deadline:
            return Drained(draining, now - started)
        time.sleep(poll)
