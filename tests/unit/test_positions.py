"""Loss proven by Kafka's order, from hand-built readings: a value whose partition the reading
group read past without receiving it is lost once that held for the settle timeout — while values
keep flowing — and nothing else is (a slow consumer, a gone worker, a shared group, values that did
not land in order)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from pyroaring import FrozenBitMap, FrozenBitMap64

from genmon.model import (
    AckLog,
    AppReading,
    AppState,
    BrokerInfo,
    Cause,
    Clocks,
    Proof,
    Reading,
    RowKind,
    SourceState,
    Stage,
    TopicOffsets,
    VerdictState,
    build,
)
from genmon.model.delta import delta_of, fold
from genmon.model.wire import WorkerReport, decode, encode

BROKER = BrokerInfo("kafka://127.0.0.1:9092", embedded=True, up=True)
TOPIC = "signups"


def ids(*values: int) -> FrozenBitMap:
    return FrozenBitMap(values)


def at(offsets: Iterable[int]) -> FrozenBitMap64:
    """Offsets a source's values landed at (the k-th smallest id at the k-th smallest offset)."""
    return FrozenBitMap64(offsets)


def signups(upto: int, received: FrozenBitMap, *, log: AckLog | None = None) -> SourceState:
    """A generator whose values 1..upto all landed on partition 0 at offsets 0..upto-1."""
    every = FrozenBitMap(range(1, upto + 1))
    return SourceState(
        name="signups",
        function="app.signups",
        kind=RowKind.ASYNC,
        owner="app0",
        seq=upto,
        sent=every,
        acked=every,
        received=received,
        processed={(TOPIC, "welcome"): received},
        topics=(TOPIC,),
        agents=("welcome",),
        acked_at={(TOPIC, 0): log or AckLog(every, at(range(upto)))},
    )


def reader(first: int, last: int, **kw) -> AppReading:  # type: ignore[no-untyped-def]
    return AppReading(
        "app0",
        "live",
        AppState.RUNNING,
        readers={TOPIC: ("welcome",)},
        positions={(TOPIC, 0): (first, last)},
        **kw,
    )


def judged(src: SourceState, app: AppReading, *, at: tuple[float, ...] = (0.0, 2.0, 6.0), **kw):  # type: ignore[no-untyped-def]
    """The pipeline as built at each moment of ``at`` (the sampler's clocks carried along)."""
    clocks = Clocks(settle_seconds=5.0)
    pipes = []
    for now in at:
        snap, clocks = build(Reading(now=now, broker=BROKER, apps=(app,), sources=(src,), **kw), clocks)
        pipes.append(snap.pipelines[0])
    return pipes


def test_a_value_the_group_read_past_is_lost_once_it_held_for_the_settle_timeout() -> None:
    received = FrozenBitMap(set(range(1, 21)) - {5})
    early, middle, late = judged(signups(20, received), reader(0, 19))
    assert early.verdict.state == VerdictState.IN_FLIGHT  # a report may still be on its way
    assert middle.verdict.state == VerdictState.IN_FLIGHT
    assert late.verdict.state == VerdictState.LOST
    assert late.verdict.stage == Stage.RECEIVED and late.verdict.lost == 1
    assert late.verdict.cause == Cause.SKIPPED and late.verdict.proof == Proof.POSITION
    assert (
        late.verdict.text
        == "lost at received: 1 (skipped: the group's position passed offset 4 of signups[0])"
    )
    assert late.damaged[Cause.SKIPPED].ranges == ((5, 5),)
    doc = late.to_dict()
    assert doc["verdict"]["cause"] == "skipped" and doc["verdict"]["proof"] == "position"


def test_values_before_a_latest_reset_groups_first_read_are_named_so() -> None:
    received = FrozenBitMap(range(4, 31))
    *_, late = judged(signups(30, received), reader(3, 29, offset_reset="latest"))
    assert late.verdict.cause == Cause.LATE_JOIN and late.verdict.lost == 3
    assert "first read signups[0] at offset 3, past offset 0, with consumer_auto_offset_reset='latest'" in (
        late.verdict.text
    )
    assert late.damaged[Cause.LATE_JOIN].ranges == ((1, 3),)


def test_the_groups_committed_offset_proves_it_too_and_retention_is_named() -> None:
    received = FrozenBitMap(range(6, 11))
    offsets = {TOPIC: TopicOffsets(TOPIC, 1, 10, "live", 10, committed_by={0: 10}, starts={0: 3})}
    nothing_read = replace(reader(0, 0), positions={})
    *_, late = judged(signups(10, received), nothing_read, offsets=offsets)
    assert late.damaged[Cause.EXPIRED].ranges == ((1, 3),)  # offsets 0-2: deleted before it read them
    assert late.damaged[Cause.SKIPPED].ranges == ((4, 5),)
    assert late.verdict.lost == 5 and late.verdict.cause in (Cause.EXPIRED, Cause.SKIPPED)


def test_a_slow_consumer_is_never_passed() -> None:
    """It reads in order, behind: what it has not reached is in flight however long that takes."""
    clocks = Clocks(settle_seconds=5.0)
    for now in range(0, 60, 2):  # one value read every 2 s; 100 wait
        read = 5 + now // 2
        src = signups(120, FrozenBitMap(range(1, read + 1)))
        app = reader(0, read - 1)
        snap, clocks = build(Reading(now=float(now), broker=BROKER, apps=(app,), sources=(src,)), clocks)
        (pipe,) = snap.pipelines
        assert pipe.verdict.state == VerdictState.IN_FLIGHT and not pipe.damaged, (now, pipe.verdict)


def test_no_proof_while_a_reading_worker_is_gone_another_consumer_shares_the_group_or_order_is_lost() -> None:
    received = FrozenBitMap(set(range(1, 21)) - {5})
    gone = reader(0, 19, gone=("w2 (pod:7) fell silent 9s ago",))
    assert all(not p.damaged for p in judged(signups(20, received), gone))
    shared = replace(reader(0, 0), positions={})
    offsets = {TOPIC: TopicOffsets(TOPIC, 1, 20, "live", 20, committed_by={0: 20})}
    pipes = judged(signups(20, received), shared, offsets=offsets, group_members={"live": 2})
    assert all(not p.damaged for p in pipes)  # the other consumer's commits prove nothing of ours
    unordered = signups(20, received, log=AckLog(ordered=False))
    assert all(not p.damaged for p in judged(unordered, reader(0, 19)))


def test_a_value_received_late_leaves_the_passed_set_before_it_is_proven() -> None:
    missing = FrozenBitMap(set(range(1, 21)) - {5})
    clocks = Clocks(settle_seconds=5.0)
    app = reader(0, 19)
    for now, received in (
        (0.0, missing),
        (3.0, FrozenBitMap(range(1, 21))),
        (9.0, FrozenBitMap(range(1, 21))),
    ):
        snap, clocks = build(
            Reading(now=now, broker=BROKER, apps=(app,), sources=(signups(20, received),)), clocks
        )
    assert snap.pipelines[0].verdict.state == VerdictState.OK
    assert not clocks.passing.get("signups")


def test_where_values_landed_travels_in_reports_and_deltas() -> None:
    first = signups(4, ids(1, 2), log=AckLog(ids(1, 2, 3, 4), at([0, 1, 7, 8])))
    grown = replace(
        first, seq=6, acked_at={(TOPIC, 0): AckLog(ids(1, 2, 3, 4, 5, 6), at([0, 1, 7, 8, 9, 12]))}
    )
    app = reader(0, 8)
    base = WorkerReport("w", "host", 1, 0.0, 0.0, 1, apps=(app,), sources=(first,))
    again = replace(base, number=2, sources=(grown,))
    assert decode(encode(base)) == base
    delta = delta_of(base, again, 2)
    (moved,) = delta.sources
    assert moved.acked_at[(TOPIC, 0)] == AckLog(ids(5, 6), at([9, 12]))
    assert fold(base, decode(encode(delta))).sources == again.sources
    assert decode(encode(again)).apps[0].positions == {(TOPIC, 0): (0, 8)}


def test_a_fleet_row_of_one_generator_in_two_workers_names_the_skipped_value_by_worker() -> None:
    """The same generator in two workers is one row, its ids lifted (``w1:5``); each worker's log of
    where its values landed is lifted alike, and a value one worker's position passed is named."""
    from genmon.model.merge import Fleet

    def worker(number: int, token: str, partition: int, received: FrozenBitMap) -> WorkerReport:
        src = replace(
            signups(10, received),
            token=token,
            acked_at={(TOPIC, partition): AckLog(FrozenBitMap(range(1, 11)), at(range(10)))},
        )
        app = replace(reader(0, 9), positions={(TOPIC, partition): (0, 9)})
        return WorkerReport(
            f"host:{number}:{token}", "host", number, 0.0, 1.0, 1, apps=(app,), sources=(src,)
        )

    fleet = Fleet()
    clocks = Clocks(settle_seconds=5.0)
    for now in (0.0, 3.0, 6.0):  # both keep reporting
        fleet.add(replace(worker(1, "a", 0, FrozenBitMap(set(range(1, 11)) - {5})), number=int(now) + 1), now)
        fleet.add(replace(worker(2, "b", 1, FrozenBitMap(range(1, 11))), number=int(now) + 1), now)
        snap, clocks = build(fleet.reading(now, broker=BROKER), clocks)
    (pipe,) = snap.pipelines
    assert pipe.verdict.cause == Cause.SKIPPED and pipe.verdict.lost == 1, pipe.verdict
    assert pipe.damaged[Cause.SKIPPED].text() == "w1:5"
    assert pipe.verdict.text.endswith("(skipped: the group's position passed offset 4 of signups[0])")
