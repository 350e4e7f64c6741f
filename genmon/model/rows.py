"""The rows of a snapshot beyond one per source: a row per topic an agent reads that nothing genmon
follows sends to (``-A``), the order rows are shown in (the flow, hop by hop), and the loop stalls
of several apps or workers as one.
"""

from __future__ import annotations

from collections.abc import Iterable

from genmon.model.silent import stuck_at_received
from genmon.model.snapshot import (
    Counts,
    LoopStalls,
    PipelineSnapshot,
    TopicOffsets,
    Verdict,
    wall_clock,
)
from genmon.model.state import AppReading, Reading
from genmon.model.vocabulary import (
    REPLIES,
    AppState,
    Cause,
    RowKind,
    VerdictState,
)


def listening_rows(pipes: tuple[PipelineSnapshot, ...], reading: Reading) -> tuple[PipelineSnapshot, ...]:
    """A row per topic an agent reads that no followed source sends to: what it receives
    comes from code genmon does not see (another service), or nothing does. Its values have no
    ids: they are accounted by Kafka's offsets (:func:`outside_verdict`)."""
    sent_to = {topic for pipe in pipes for topic in pipe.topics}
    rows = []
    for app in reading.apps:
        for topic, agents in app.readers.items():
            if topic in sent_to or agents == (REPLIES,):
                continue  # the reply topic: listened to only once the app asks, nothing to show before
            inbound = reading.inbound.get(topic)
            received = inbound.received if inbound else 0
            processed = min(inbound.processed.values()) if inbound and inbound.processed else 0
            rows.append(
                PipelineSnapshot(
                    name=topic,
                    generator="",
                    kind=RowKind.TOPIC,
                    on=False,
                    counts=Counts(0, 0, 0, received, processed),
                    verdict=outside_verdict(topic, received, app, reading),
                    app_id=app.app_id,
                    topics=(topic,),
                    agents=agents,
                    processed_by=dict(inbound.processed) if inbound else {},
                )
            )
    return tuple(rows)


def outside_verdict(topic: str, received: int, app: AppReading, reading: Reading) -> Verdict:
    """A topic row's verdict from broker truth: records other producers left on ``topic`` that the
    app's group has not committed (its lag) are **stuck** when the topic is assigned to no consumer
    of the app (created after the group subscribed: the fix is to create it first) or when an agent
    that reads it crashed, and **in flight** otherwise; counts without ids."""
    offsets = reading.offsets.get(topic)
    waiting = _waiting(offsets)
    running = app.state == AppState.RUNNING
    if running and waiting and app.assigned is not None and topic not in app.assigned:
        why = (
            f"{topic} is assigned to no consumer of {app.app_id}: records from another producer landed "
            "after the group subscribed; create topics before the app starts (--create-topics)"
        )
        return stuck_at_received(waiting, Cause.UNASSIGNED, why)
    dead = next((crash for agent in app.readers.get(topic, ()) if (crash := app.crashes.get(agent))), None)
    if running and waiting and dead is not None:
        note, at = dead
        why = f"{note} at {wall_clock(at)}; lag {waiting:,} on {topic}"
        return stuck_at_received(waiting, Cause.AGENT_DEAD, why)
    if waiting:
        text = f"{received:,} from untracked senders · {waiting:,} waiting on the broker"
        return Verdict(VerdictState.IN_FLIGHT, text, in_flight=waiting)
    if received:
        return Verdict(VerdictState.OK, f"{received:,} from untracked senders")
    return Verdict(VerdictState.IDLE, "nothing sends here")


def _waiting(offsets: TopicOffsets | None) -> int:
    """Records on the topic the group has not committed (no commit at all: every record)."""
    if offsets is None:
        return 0
    if offsets.committed is None:
        return offsets.on_topic
    return offsets.lag or 0


def flow_order(pipes: tuple[PipelineSnapshot, ...]) -> tuple[PipelineSnapshot, ...]:
    """Rows so that a multi-hop flow reads top to bottom: a row whose sender is an agent comes
    after the rows that feed that agent (generators and tasks first, then each hop)."""
    feeds: dict[str, set[str]] = {}  # agent -> rows delivering to it
    for pipe in pipes:
        for agent in pipe.agents:
            feeds.setdefault(agent, set()).add(pipe.name)
    depth: dict[str, int] = {}
    by_name = {pipe.name: pipe for pipe in pipes}

    def depth_of(pipe: PipelineSnapshot, seen: frozenset[str] = frozenset()) -> int:
        if pipe.name in depth:
            return depth[pipe.name]
        agent = pipe.name[:-2] if pipe.kind == RowKind.SENDER and pipe.name.endswith("()") else None
        fed_by = feeds.get(agent, ()) if agent else ()
        upstream = [by_name[name] for name in fed_by if name in by_name and name not in seen]
        value = 1 + max((depth_of(p, seen | {pipe.name}) for p in upstream), default=-1)
        depth[pipe.name] = value
        return value

    order = {pipe.name: index for index, pipe in enumerate(pipes)}
    return tuple(sorted(pipes, key=lambda p: (depth_of(p), order[p.name])))


def combined(all_stalls: Iterable[LoopStalls]) -> LoopStalls:
    """The stalls of several loops as one: total count, the longest, the longest ongoing."""
    count, longest, at, ongoing = 0, 0.0, None, 0.0
    for s in all_stalls:
        count += s.count
        ongoing = max(ongoing, s.ongoing)
        if s.longest > longest:
            longest, at = s.longest, s.longest_at
    return LoopStalls(count, longest, at, ongoing)
