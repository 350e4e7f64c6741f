"""Loss proven by Kafka's own order, while values keep flowing.

Kafka delivers a partition in offset order. The sending process knows where each acknowledged
value landed (:class:`~genmon.model.state.AckLog`: partition and offset); each app's consumer knows
the last offset it received on each partition (``AppReading.positions``), and the broker the
offset its group committed. A value that landed at offset *o* and was never received, on a
partition whose reading group has received a later offset or committed past *o*, was *passed*:
skipped, not late. :func:`passed` names those values and why; the settle clocks hold each for the
settle timeout before it counts as lost (a report from the worker that read it may still be on
its way: :meth:`genmon.model.settle.Clocks.passing`).

Only real losses: a value is passed only on a partition whose values landed in id order (else no
offset is known for it), never while a worker of the reading app is gone (what it read after its
last report is unknown), and the group's committed offset counts only while the broker lists no
consumer in the group that genmon does not follow (another consumer's commits say nothing of
what genmon's workers received).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from genmon.model.ids import FrozenIds, Ids, both, either, frozen, minus, mutable, within
from genmon.model.state import AckLog, AppReading, Reading, SourceState
from genmon.model.vocabulary import Cause


@dataclass(frozen=True)
class Passed:
    """Values of one source the reading groups' positions passed, for one cause."""

    cause: Cause
    ids: FrozenIds
    note: str
    """The proof in words, for the first such value (``skipped: the group's position passed
    offset 0 of signups[2]``)."""


def passed(
    src: SourceState, reading: Reading, readers: Mapping[str, tuple[AppReading, ...]] | None = None
) -> dict[Cause, Passed]:
    """Per cause, the values of ``src`` a reading group's position passed without receiving them.

    Cheap in the usual cases: nothing missing, or only the newest values still on their way — the
    ranks of the positions are looked up first (no set is built), and only a partition whose passed
    ids reach down to a missing one is looked at closer. ``readers``: :func:`readers_of` the reading
    (computed once per snapshot)."""
    logs = src.landings()
    if not logs or len(src.acked) <= len(src.received):
        return {}
    readers = readers_of(reading) if readers is None else readers
    gone_apps = {app.app_id for app in reading.apps if app.gone}
    plans = []
    for topic, partition, log in logs:
        apps = readers.get(topic, ())
        if not log.ordered or not apps or any(app.app_id in gone_apps for app in apps):
            continue
        found = _passed_on(log, topic, partition, apps, reading)
        if found:
            plans.append((topic, partition, log, found))
    if not plans:
        return {}
    missing = mutable(minus(src.acked, src.received))
    missing.remove_range(0, src.floor + 1)  # a fleet row's floor is applied by the merge
    for damaged in src.damaged.values():
        missing = mutable(minus(missing, damaged))
    if not missing or missing.min() > max(high for *_, found in plans for _, (_, high), _ in found):
        return {}  # only values after every position are missing: on their way, not passed
    out: dict[Cause, tuple[Ids, str]] = {}
    for _, _, log, found in sorted(plans, key=lambda plan: (plan[0], plan[1])):
        here = both(missing, log.ids)
        if not here:
            continue
        for cause, (low, high), words in found:
            fresh = within(here, low, high)
            if not fresh:
                continue
            offset = log.offset_of(log.ids.rank(fresh.min()) - 1)  # the first value not received
            known = out.get(cause)
            out[cause] = (
                (fresh, words.format(offset=offset)) if known is None else (either(known[0], fresh), known[1])
            )
            here = minus(here, fresh)
            missing = mutable(minus(missing, fresh))
    return {cause: Passed(cause, frozen(ids), note) for cause, (ids, note) in out.items()}


def readers_of(reading: Reading) -> dict[str, tuple[AppReading, ...]]:
    """topic -> the apps whose agents read it (each its own consumer group)."""
    readers: dict[str, tuple[AppReading, ...]] = {}
    for app in reading.apps:
        for topic in app.readers:
            readers[topic] = (*readers.get(topic, ()), app)
    return readers


def _passed_on(
    log: AckLog, topic: str, partition: int, apps: tuple[AppReading, ...], reading: Reading
) -> list[tuple[Cause, tuple[int, int], str]]:
    """Which ids of one partition's log one of ``apps`` passed, by cause: each as the range of ids
    (lowest, highest) it covers, with its proof in words (``{offset}``: the offset of the first of
    them that was never received)."""
    where = f"{topic}[{partition}]"
    broker = reading.offsets.get(topic)
    start = broker.starts.get(partition, 0) if broker is not None else 0
    found: list[tuple[Cause, tuple[int, int], str]] = []
    ids = log.ids
    for app in apps:
        position = app.positions.get((topic, partition))
        reach = position[1] + 1 if position is not None else 0
        shared = reading.group_members.get(app.app_id, 0) > app.members
        if broker is not None and broker.group == app.app_id and not shared:
            reach = max(reach, broker.committed_by.get(partition, 0))
        rank = log.below(reach)
        if not rank:
            continue
        expired = min(log.below(start), rank)
        if expired:
            words = f"deleted by retention: {where} starts at offset {start}, past offset {{offset}}"
            found.append((Cause.EXPIRED, (0, ids[expired - 1]), words))
        late = 0
        if app.offset_reset == "latest" and position is not None:
            late = max(min(log.below(position[0]), rank) - expired, 0)
        if late and position is not None:
            words = (
                f"skipped: the group first read {where} at offset {position[0]}, past offset "
                "{offset}, with consumer_auto_offset_reset='latest'"
            )
            found.append((Cause.LATE_JOIN, (ids[expired], ids[expired + late - 1]), words))
        if rank > expired + late:
            words = f"skipped: the group's position passed offset {{offset}} of {where}"
            found.append((Cause.SKIPPED, (ids[expired + late], ids[rank - 1]), words))
    return found


def proven_notes(passes: Mapping[Cause, Passed], proven: Ids) -> dict[Cause, tuple[FrozenIds, str]]:
    """Of the passed values, those held for the settle timeout (``proven``), by cause, with the note."""
    out = {}
    for cause, passed_ids in passes.items():
        ids = frozen(both(passed_ids.ids, proven))
        if ids:
            out[cause] = (ids, passed_ids.note)
    return out
