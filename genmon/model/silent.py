"""A silent shortfall that is not the app's loss: the values are stuck on the broker, another
consumer genmon does not follow took them, or the broker lost them. Each is judged only where the
quiet rule (:mod:`genmon.model.settle`) would have said lost, and names what it saw.
"""

from __future__ import annotations

from genmon.model.settle import Clocks
from genmon.model.snapshot import Outage, Verdict, wall_clock
from genmon.model.state import AppReading, Reading, SourceState
from genmon.model.vocabulary import STAGES, AppState, Cause, Stage, VerdictState


def mismatch(topic: str, app: AppReading, reading: Reading) -> str | None:
    """``on the broker it has 1 partition, the app declares 4`` when broker truth and the app disagree
    (a topic created by a first send, with the broker's default count)."""
    offsets, declared = reading.offsets.get(topic), app.declared.get(topic)
    if offsets is None or not declared or not offsets.partitions or offsets.partitions == declared:
        return None
    has = "1 partition" if offsets.partitions == 1 else f"{offsets.partitions} partitions"
    return f"on the broker it has {has}, the app declares {declared}"


READ_ON_SECONDS = 5.0
"""How long after an agent's crash its consumer may still take in messages (Faust's buffers fill
up before the partition is paused) and the stop still be the crash's doing."""


def stuck(
    verdict: Verdict, src: SourceState, app: AppReading | None, reading: Reading, clocks: Clocks
) -> Verdict | None:
    """A silent shortfall at received that is not a loss: the values wait on a topic nothing reads —
    one the app's consumer has no partition of, or one whose agent crashed and has read nothing
    since (its consumer stopped within ``READ_ON_SECONDS`` plus the settle timeout of the crash).
    Only a shortfall at received alone: one that spans stages stays lost."""
    if verdict.state != VerdictState.LOST or verdict.stage != Stage.RECEIVED or verdict.cause is not None:
        return None
    if len(verdict.shortfalls) > 1:
        return None
    if app is None or app.state != AppState.RUNNING:
        return None
    count = verdict.lost
    read = [topic for topic in src.topics if topic in app.readers]
    unassigned = [t for t in read if app.assigned is not None and t not in app.assigned]
    if unassigned:
        why = f"{unassigned[0]} is assigned to no consumer of {app.app_id}"
        if (other := mismatch(unassigned[0], app, reading)) is not None:
            why += f"; {other}"
        return stuck_at_received(count, Cause.UNASSIGNED, why)
    clock = clocks.rows.get(src.name)
    if clock is None or not app.crashes or not reading.wall:
        return None
    i = STAGES.index(Stage.RECEIVED)
    stopped = reading.wall - (reading.now - clock.moved[i])  # when received last moved, wall clock
    for topic in read:
        for agent in app.readers[topic]:
            crash = app.crashes.get(agent)
            if crash is None or stopped > crash[1] + READ_ON_SECONDS + clocks.settle_seconds:
                continue
            note, at = crash
            offsets = reading.offsets.get(topic)
            lag = f"; lag {offsets.lag}" if offsets is not None and offsets.lag else ""
            why = f"{note} at {wall_clock(at)}; nothing read from {topic} since{lag}"
            return stuck_at_received(count, Cause.AGENT_DEAD, why)
    return None


def stuck_at_received(count: int, cause: Cause, why: str) -> Verdict:
    return Verdict(
        VerdictState.STUCK,
        f"stuck at received: {count:,} ({why})",
        Stage.RECEIVED,
        in_flight=count,
        cause=cause,
        error=why,
        proof=cause.proof,
    )


def shared_group(verdict: Verdict, app: AppReading | None, reading: Reading) -> str | None:
    """``2 other consumers in group shop take a share of these partitions`` when a silent loss at
    received or processed sits on a group the broker lists more members in than genmon's workers."""
    if app is None or verdict.state != VerdictState.LOST or verdict.cause is not None:
        return None
    if verdict.stage not in (Stage.RECEIVED, Stage.PROCESSED):
        return None
    others = reading.group_members.get(app.app_id, 0) - app.members
    if others <= 0:
        return None
    who = "1 other consumer" if others == 1 else f"{others} other consumers"
    verb = "takes" if others == 1 else "take"
    return f"{who} in group {app.app_id} {verb} a share of these partitions"


def broker_outage(verdict: Verdict, clocks: Clocks, name: str, reading: Reading) -> Outage | None:
    """The broker outage a silent shortfall at acked or received belongs to, if any: the later
    stage stopped moving during it (or at most ``settle`` seconds before it began). Values lost at
    sent (the app never sent them) or processed (the agent had them) are never the broker's.

    An in-flight shortfall is the broker's only while the broker is not answering now."""
    broker = reading.broker
    if not broker.outages or verdict.cause is not None:
        return None
    if verdict.state == VerdictState.LOST:
        stage = verdict.stage
    elif verdict.state == VerdictState.IN_FLIGHT and not broker.up:
        return broker.outages[-1]
    else:
        return None
    if stage not in (Stage.ACKED, Stage.RECEIVED):
        return None
    clock = clocks.rows.get(name)
    if clock is None:
        return None
    i = STAGES.index(stage)
    stopped = max(clock.moved[i], clock.caught_up[i])
    for outage in reversed(broker.outages):
        if outage.overlaps(stopped - clocks.settle_seconds, reading.now):
            return outage
    return None
