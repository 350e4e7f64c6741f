"""Merging workers' reports is pure: hand-built reports in, one reading out, no broker and no clock.

The rules (genmon.model.merge): per origin a union per stage; a later stage implies the earlier ones;
one generator in several workers is one row whose ids never collide; a reset is a floor per origin;
a worker that falls silent is gone and its shortfall unverifiable, never lost.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from pyroaring import BitMap, FrozenBitMap

from genmon.model import (
    DEFAULT_FAIL_ON,
    AppReading,
    AppState,
    BrokerInfo,
    Cause,
    Clocks,
    Made,
    RowKind,
    SourceState,
    Stage,
    VerdictState,
    build,
    downstream_key,
    problems,
)
from genmon.model.control_record import ControlRecord
from genmon.model.delta import delta_of, fold
from genmon.model.ids import id_text
from genmon.model.merge import Fleet
from genmon.model.wire import MAX_REPORT_BYTES, WireError, WorkerReport, decode, encode

BROKER = BrokerInfo("kafka://127.0.0.1:9092", embedded=False, up=True)
TOPIC, AGENT = ("numbers", "consume")


def ids(first: int, last: int, *, without: tuple[int, ...] = ()) -> FrozenBitMap:
    return FrozenBitMap(BitMap(range(first, last + 1)) - BitMap(without))


def sender(
    token: str, upto: int, *, sent: int | None = None, received: FrozenBitMap | None = None
) -> SourceState:
    """A worker's own generator: ``upto`` yielded, ``sent`` of them sent and acked."""
    sent = upto if sent is None else sent
    got = received if received is not None else FrozenBitMap()
    return SourceState(
        name="numbers",
        function="fleet.produce",
        kind=RowKind.ASYNC,
        owner="app0",
        seq=upto,
        token=token,
        sent=ids(1, sent),
        acked=ids(1, sent),
        received=got,
        processed={(TOPIC, AGENT): got} if got else {},
        topics=(TOPIC,),
        agents=(AGENT,) if got else (),
    )


def receiver(token: str, got: FrozenBitMap) -> SourceState:
    """What a worker received and processed of another worker's generator."""
    return SourceState(
        name="numbers",
        function="?",
        kind=RowKind.ASYNC,
        token=token,
        foreign=True,
        received=got,
        processed={(TOPIC, AGENT): got},
        agents=(AGENT,),
    )


def report(worker: str, *sources: SourceState, number: int = 1, final: bool = False, **kw) -> WorkerReport:  # type: ignore[no-untyped-def]
    return WorkerReport(
        worker=f"host:{worker}:{worker}",
        host="host",
        pid=int(worker.strip("w") or 0),
        started=1000.0,
        at=1000.0 + number,
        number=number,
        apps=(AppReading("app0", "fleet", AppState.RUNNING, readers={TOPIC: (AGENT,)}),),
        sources=sources,
        final=final,
        **kw,
    )


def merged(fleet: Fleet, now: float = 1.0):  # type: ignore[no-untyped-def]
    """The snapshot at ``now`` of counts that have not moved for 20 s (so a shortfall can be judged)."""
    _, clocks = build(fleet.reading(now - 20.0, broker=BROKER), Clocks(5.0))
    reading = fleet.reading(now, broker=BROKER)
    return build(reading, clocks)[0], reading


def test_a_value_sent_in_one_worker_and_received_in_another_is_one_value() -> None:
    fleet = Fleet()
    fleet.add(report("1", sender("a", 100)), 0.0)
    fleet.add(report("2", receiver("a", ids(1, 60))), 0.0)
    fleet.add(report("3", receiver("a", ids(61, 100))), 0.0)
    snap, reading = merged(fleet)
    (pipe,) = snap.pipelines
    assert pipe.counts.as_tuple() == (100, 100, 100, 100, 100)
    assert pipe.missing == {} and pipe.duplicates[Stage.RECEIVED] == 0
    shares = {w.label: dict(w.shares) for w in reading.workers}
    assert shares["w2"][Stage.RECEIVED] == 60 and shares["w3"][Stage.RECEIVED] == 40


def test_a_value_received_by_two_workers_is_a_redelivery_never_a_loss() -> None:
    fleet = Fleet()
    fleet.add(report("1", sender("a", 50)), 0.0)
    fleet.add(report("2", receiver("a", ids(1, 30))), 0.0)
    fleet.add(report("3", receiver("a", ids(25, 50))), 0.0)  # 25-30 again, after a rebalance
    snap, _ = merged(fleet)
    (pipe,) = snap.pipelines
    assert pipe.counts.as_tuple() == (50, 50, 50, 50, 50)
    assert pipe.duplicates[Stage.RECEIVED] == 6
    assert pipe.verdict.state != VerdictState.LOST


def test_a_receiver_reporting_later_than_the_sender_never_puts_a_stage_ahead() -> None:
    fleet = Fleet()
    fleet.add(report("1", sender("a", 40)), 0.0)  # the sender's report is older
    fleet.add(report("2", receiver("a", ids(1, 55))), 0.0)
    snap, _ = merged(fleet)
    counts = snap.pipelines[0].counts.as_tuple()
    assert counts == (55, 55, 55, 55, 55)
    assert list(counts) == sorted(counts, reverse=True)


def test_a_real_loss_between_workers_is_named_by_id() -> None:
    fleet = Fleet()
    fleet.add(report("1", sender("a", 20)), 0.0)
    fleet.add(report("2", receiver("a", ids(1, 20, without=(7, 8)))), 0.0)
    snap, _ = merged(fleet)
    pipe = snap.pipelines[0]
    assert pipe.verdict.state == VerdictState.LOST and pipe.verdict.stage == Stage.RECEIVED
    assert pipe.missing[Stage.RECEIVED].ranges == ((7, 8),)


def test_one_generator_in_two_workers_is_one_row_with_ids_that_never_collide() -> None:
    fleet = Fleet()
    fleet.add(report("1", sender("a", 10), receiver("b", ids(1, 10, without=(4,)))), 0.0)
    fleet.add(report("2", sender("b", 10), receiver("a", ids(1, 10))), 0.0)
    snap, _ = merged(fleet)
    (pipe,) = snap.pipelines
    assert pipe.counts.as_tuple() == (20, 20, 20, 19, 19)
    (missing,) = pipe.missing[Stage.RECEIVED].ranges
    assert missing[0] == missing[1] and id_text(missing[0]) == "w2:4"
    assert pipe.missing[Stage.RECEIVED].text() == "w2:4"
    assert pipe.missing[Stage.RECEIVED].to_dict()["ranges"] == [["w2:4", "w2:4"]]


def test_a_reset_is_a_floor_per_origin() -> None:
    fleet = Fleet()
    fleet.add(report("1", sender("a", 30)), 0.0)
    fleet.add(report("2", receiver("a", ids(1, 28))), 0.0)
    fleet.reset()
    fleet.add(report("1", sender("a", 45), number=2), 1.0)
    fleet.add(report("2", receiver("a", ids(1, 45)), number=2), 1.0)
    snap, _ = merged(fleet)
    assert snap.pipelines[0].counts.as_tuple() == (15, 15, 15, 15, 15)


def test_an_older_report_never_replaces_a_newer_one() -> None:
    fleet = Fleet()
    fleet.add(report("1", sender("a", 30), number=5), 0.0)
    fleet.add(report("1", sender("a", 10), number=4), 1.0)
    snap, _ = merged(fleet)
    assert snap.pipelines[0].counts.yielded == 30


def test_a_silent_worker_is_gone_and_its_shortfall_unverifiable_not_lost() -> None:
    fleet = Fleet()
    fleet.add(report("1", sender("a", 50, sent=45), interval=1.0), 0.0)
    fleet.add(report("2", receiver("a", ids(1, 45)), interval=1.0), 9.5)
    snap, reading = merged(fleet, now=10.0)
    w1 = next(w for w in reading.workers if w.label == "w1")
    assert not w1.alive and not w1.final
    pipe = snap.pipelines[0]
    assert pipe.verdict.state == VerdictState.UNVERIFIABLE, pipe.verdict
    assert "w1" in pipe.verdict.text
    assert "1 alive, 1 gone" in __import__("genmon.model", fromlist=["header_line"]).header_line(snap)


def test_a_worker_that_said_goodbye_is_not_gone() -> None:
    fleet = Fleet()
    fleet.add(report("1", sender("a", 20), final=True), 0.0)
    fleet.add(report("2", receiver("a", ids(1, 20))), 99.0)
    snap, reading = merged(fleet, now=100.0)
    assert [w.final for w in reading.workers] == [True, False]
    assert snap.pipelines[0].verdict.state != VerdictState.UNVERIFIABLE


def test_a_switch_waits_for_every_alive_worker() -> None:
    fleet = Fleet()
    a, b = sender("a", 5, received=ids(1, 5)), sender("b", 5, received=ids(1, 5))
    fleet.add(report("1", a), 0.0)
    fleet.add(report("2", b), 0.0)
    fleet.switch("fleet", "numbers", False, stamp=1)
    fleet.add(report("1", replace(a, on=False), number=2), 0.0)
    snap, _ = merged(fleet)
    assert snap.pipelines[0].verdict.text == "switching off (1 of 2 workers)"
    assert snap.pipelines[0].on is False
    fleet.add(report("2", replace(b, on=False), number=2), 0.0)
    snap, _ = merged(fleet)
    assert "switching" not in snap.pipelines[0].verdict.text
    fleet.switch("fleet", "*", True, stamp=2)  # newer than the generator's own switch: wins
    assert fleet.reading(0.0, broker=BROKER).sources[0].on is True


def test_a_switch_does_not_wait_for_a_worker_killed_without_a_goodbye() -> None:
    """A worker killed (SIGKILL) never obeys and never says goodbye: once it is gone the switch is
    complete without it (it said "switching off (3 of 4 workers)" for the rest of the run)."""
    fleet = Fleet()
    a, b = sender("a", 5, received=ids(1, 5)), sender("b", 5, received=ids(1, 5))
    fleet.add(report("1", a), 0.0)
    fleet.add(report("2", b), 0.0)
    fleet.switch("fleet", "numbers", False, stamp=1)
    fleet.add(report("1", replace(a, on=False), number=2), 1.5)
    assert fleet.reading(2.0, broker=BROKER).sources[0].switching == "switching off (1 of 2 workers)"
    assert fleet.reading(5.0, broker=BROKER).sources[0].switching is None  # w2 silent 3 intervals: gone


def test_the_wire_carries_a_report_exactly() -> None:
    src = replace(
        sender("a", 1_000_000, received=ids(1, 1_000_000, without=tuple(range(1000, 1_000_000, 1000)))),
        latency_hist="",
    )
    hop = replace(
        sender("h", 9),
        name="route()",
        made_from=(Made(1, 4, "numbers@a", 3, 10, 40), Made(5, 9, "numbers@a", 8, 50, 90)),
    )
    original = report("1", src, receiver("z", ids(3, 9)), hop, consumed=("numbers",))
    data = encode(original)
    assert len(data) < 20_000  # a million ids with a gap per thousand: a few KB, run-length compressed
    back = decode(data)
    assert back == original


def test_a_report_too_big_for_kafka_keeps_its_counts_and_says_what_it_dropped() -> None:
    import random

    scattered = FrozenBitMap(random.Random(7).sample(range(1, 4_000_000), 1_500_000))  # no runs, no pattern
    big = report("1", replace(sender("a", 4_000_000), sent=scattered, acked=scattered, received=scattered))
    data = encode(big)
    assert len(data) <= MAX_REPORT_BYTES
    back = decode(data)
    assert back.truncated and back.sources[0].seq == 4_000_000


@pytest.mark.parametrize("data", [b"", b"not zlib", __import__("zlib").compress(b'{"format": 99}')])
def test_bytes_that_are_not_a_report_are_refused_in_one_line(data: bytes) -> None:
    with pytest.raises(WireError):
        decode(data)


def test_control_records_round_trip_and_refuse_garbage() -> None:
    record = ControlRecord("shop", "orders", False, 123)
    assert ControlRecord.decode(record.key, record.encode()) == record
    with pytest.raises(WireError):
        ControlRecord.decode(b"no-slash", b"{}")


def test_deltas_fold_back_into_the_whole_state_and_a_gap_waits_for_the_next_checkpoint() -> None:
    from genmon.model.delta import delta_of

    first = report("1", sender("a", 100, received=ids(1, 100, without=(5,))), receiver("z", ids(1, 9)))
    later = report(
        "1",
        sender("a", 250, sent=240, received=ids(1, 240, without=(5,))),
        receiver("z", ids(1, 30)),
        number=2,
    )
    delta = delta_of(first, later, number=2)
    (own, seen) = delta.sources
    assert own.sent == ids(101, 240) and seen.received == ids(10, 30)  # only what is new travels
    assert len(encode(delta)) < len(encode(later))
    whole, folded = Fleet(), Fleet()
    whole.add(later, 0.0)
    folded.add(decode(encode(first)), 0.0)
    folded.add(decode(encode(delta)), 0.0)
    assert folded.reading(1.0, broker=BROKER).sources == whole.reading(1.0, broker=BROKER).sources
    gap = Fleet()
    gap.add(first, 0.0)
    gap.add(delta_of(later, later, number=3), 0.0)  # number 2 never arrived
    assert gap.missed == 1 and gap.reading(1.0, broker=BROKER).sources[0].seq == 100


def test_acked_and_processed_travel_as_the_gaps_in_sent_and_received() -> None:
    src = sender("a", 5000, received=ids(1, 5000))
    src = replace(
        src, acked=ids(1, 5000, without=(9,)), processed={(TOPIC, AGENT): ids(1, 5000, without=(4000,))}
    )
    back = decode(encode(report("1", src))).sources[0]
    assert back.acked == src.acked and back.processed == src.processed


def test_a_delta_without_histograms_keeps_the_last_ones() -> None:
    from genmon.model.delta import delta_of

    first = report("1", replace(sender("a", 10, received=ids(1, 10)), latency_hist="HIST1"))
    later = report("1", replace(sender("a", 20, received=ids(1, 20)), latency_hist="HIST2"), number=2)
    light = delta_of(first, later, number=2, latency=False)
    assert light.sources[0].latency_hist == ""
    assert fold(first, light).sources[0].latency_hist == "HIST1"
    assert fold(first, delta_of(first, later, number=2)).sources[0].latency_hist == "HIST2"


def test_a_delta_leaves_out_the_sources_with_nothing_new() -> None:
    from hdrh.histogram import HdrHistogram

    from genmon.model.delta import delta_of

    def hist(ms: int) -> str:
        histogram = HdrHistogram(1, 3_600_000_000, 2)
        histogram.record_value(ms * 1000)
        return histogram.encode().decode()

    HQ, HQ2 = hist(5), hist(9)
    quiet, busy = sender("q", 50, received=ids(1, 50)), sender("b", 10, received=ids(1, 10))
    first = report("1", replace(quiet, latency_hist=HQ), busy)
    later = report("1", replace(quiet, latency_hist=HQ2), sender("b", 30, received=ids(1, 30)), number=2)
    light = delta_of(first, later, number=2, latency=False)
    assert [s.token for s in light.sources] == ["b"]  # q's only news is a histogram this delta omits
    assert [s.token for s in delta_of(first, later, number=2).sources] == ["q", "b"]
    whole, folded = Fleet(), Fleet()
    whole.add(replace(later, sources=(replace(quiet, latency_hist=HQ), later.sources[1])), 0.0)
    folded.add(decode(encode(first)), 0.0)
    folded.add(decode(encode(light)), 0.0)
    assert folded.reading(1.0, broker=BROKER).sources == whole.reading(1.0, broker=BROKER).sources
    switched = report("1", replace(quiet, latency_hist=HQ, on=False), busy, number=2)
    assert [s.token for s in delta_of(first, switched, number=2).sources] == ["q"]  # a switch is news


def test_latency_figures_of_many_busy_rows_are_recomputed_a_few_rows_per_reading() -> None:
    from hdrh.histogram import HdrHistogram

    from genmon.model.merge import LATENCY_REFRESH_SECONDS, LATENCY_ROWS_PER_READING

    def hist(ms: int) -> str:
        histogram = HdrHistogram(1, 3_600_000_000, 2)
        histogram.record_value(ms * 1000)
        return histogram.encode().decode()

    rows = 2 * LATENCY_ROWS_PER_READING + 5

    def fleet_report(ms: int, number: int) -> WorkerReport:
        return report(
            "1",
            *(replace(sender(f"t{i}", 10), name=f"g{i}", latency_hist=hist(ms + i)) for i in range(rows)),
            number=number,
        )

    def p50s(fleet: Fleet, now: float) -> list[float]:
        return [src.latency_ms["p50"] for src in fleet.reading(now, broker=BROKER).sources]

    fleet = Fleet()
    fleet.add(fleet_report(100, 1), 0.0)
    assert p50s(fleet, 0.0) == pytest.approx([100 + i for i in range(rows)], rel=0.01)  # all at once
    fleet.add(fleet_report(500, 2), 0.0)  # every row's histogram changed
    assert p50s(fleet, 1.0) == p50s(fleet, 0.0)  # not before LATENCY_REFRESH_SECONDS
    now, turns = LATENCY_REFRESH_SECONDS, 0
    while True:
        figures = p50s(fleet, now)
        new = sum(1 for i, p50 in enumerate(figures) if p50 == pytest.approx(500 + i, rel=0.01))
        assert new <= (turns + 1) * LATENCY_ROWS_PER_READING  # a few rows per reading, never all
        turns += 1
        if new == rows:
            break
        now += 0.5
    assert turns == -(-rows // LATENCY_ROWS_PER_READING)  # and every row got its turn


@pytest.mark.parametrize("seed", range(6))
def test_percentiles_are_hdrhistograms_own(seed: int) -> None:
    """genmon's percentile walk (in C) gives what HdrHistogram's own (in Python) gives, for one
    histogram and for the sum of a fleet's decoded ones."""
    import random

    from hdrh.histogram import HdrHistogram

    from genmon.model.latency import percentiles

    rng = random.Random(seed)
    parts = []
    for _ in range(1 + seed % 3):
        histogram = HdrHistogram(1, 3_600_000_000, 2)
        for _ in range(rng.randrange(1, 3000)):
            histogram.record_value(max(1, int(rng.lognormvariate(rng.uniform(5, 15), 1.5))))
        parts.append(HdrHistogram.decode(histogram.encode()))
    total = parts[0]
    for more in parts[1:]:
        total.add(more)
    wanted = [0, 1, 50, 90, 95, 99, 99.9, 100]
    assert percentiles(total, wanted) == total.get_percentile_to_value_dict(wanted)


def test_id_sets_travel_as_bits_when_that_is_smaller_and_come_back_exact() -> None:
    """A delta's ids scattered over a worker's partitions (a third of 170 values, say) cost roaring
    16 bits each; a bit per id from first to last is smaller. Runs stay roaring's."""
    import base64
    import random

    from pyroaring import BitMap

    from genmon.model.wire import _bitmap, _ids

    rng = random.Random(3)
    scattered = FrozenBitMap(n for n in range(5_000, 5_170) if rng.random() < 0.34)
    cases = [
        scattered,
        FrozenBitMap([7]),
        FrozenBitMap([1, 8_000]),  # far apart: roaring's
        ids(1, 1_000_000),  # one run: roaring's, a few bytes
        FrozenBitMap(range(0, 60_000, 3)),  # too many ids for bits
        FrozenBitMap(),
        FrozenBitMap([2**32 - 1, 2**32 - 9]),
    ]
    for case in cases:
        assert _bitmap(_ids(case)) == case
    assert isinstance(_ids(scattered), list) and isinstance(_ids(ids(1, 1_000_000)), str)
    roaring = BitMap(scattered)
    roaring.run_optimize()
    assert len(_ids(scattered)[1]) < len(base64.b64encode(roaring.serialize())) / 2
    src = replace(sender("a", 5_170), received=scattered, processed={(TOPIC, AGENT): scattered})
    assert decode(encode(report("1", src))).sources[0] == src
    with pytest.raises(WireError):
        decode(encode(report("1", src))[:40])  # cut short: refused, not misread


def test_losses_at_a_later_hop_travel_merge_and_name_both_rows() -> None:
    """The crash a receiving worker saw at a later hop (on its record of the origin, a foreign
    source) reaches the wire, the fold of deltas and the merge: the origin's row names the ids it
    gave them and where they died, the hop's row names the origin; the app's crashes, declared
    partitions and not-imported modules travel with it."""
    key = downstream_key("route()", Cause.CRASHED)
    note = "agent bill raised RuntimeError('x')"
    seen_there = replace(
        receiver("a", ids(1, 100)), downstream={key: ids(9, 9)}, downstream_notes={key: note}
    )
    hop = SourceState(
        name="route()",
        function="app.route",
        kind=RowKind.SENDER,
        owner="app0",
        seq=100,
        token="b",
        sent=ids(1, 100),
        acked=ids(1, 100),
        received=ids(1, 100),
        processed={(TOPIC, AGENT): ids(1, 100, without=(9,))},
        damaged={Cause.CRASHED: ids(9, 9)},
        notes={Cause.CRASHED: note},
        topics=(TOPIC,),
        agents=(AGENT,),
    )
    app = AppReading(
        "app0",
        "fleet",
        AppState.RUNNING,
        readers={TOPIC: (AGENT,)},
        crashes={"bill": (note, 1234.5)},
        declared={TOPIC: 4},
        not_imported=("app.extra: ModuleNotFoundError: No module named 'x'",),
    )
    second = replace(report("2", seen_there, hop, number=2), apps=(app,))
    assert decode(encode(second)) == second
    first = replace(report("2", receiver("a", ids(1, 50)), number=1), apps=(app,))
    assert fold(first, delta_of(first, second, 2)) == replace(second, number=2)
    fleet = Fleet()
    fleet.add(report("1", sender("a", 100)), 0.0)
    fleet.add(second, 0.0)
    snap, reading = merged(fleet)
    (merged_app,) = reading.apps
    assert merged_app.crashes == {"bill": (note, 1234.5)} and merged_app.declared == {TOPIC: 4}
    origin, there = snap.pipeline("numbers"), snap.pipeline("route()")
    (lost,) = origin.downstream
    assert (lost.row, lost.cause, lost.ids.text(), lost.note) == ("route()", Cause.CRASHED, "9", note)
    assert origin.verdict.state == VerdictState.LOST and origin.verdict.stage is None
    assert origin.verdict.text == f"lost downstream: 1 at route() ({note})"
    (up,) = there.upstream
    assert (up.row, up.ids.text()) == ("numbers", "9") and there.verdict.text.endswith(" — from numbers 9")
    assert problems(snap, DEFAULT_FAIL_ON) == [
        "app fleet: autodiscovery could not import app.extra: ModuleNotFoundError: No module named 'x'",
        f"numbers: 1 lost downstream at route() ({note}), ids 9",
        f"route(): {note} on ids 9 — from numbers 9",
    ]


def test_a_hops_runs_travel_as_what_is_new_and_fold_back_to_what_the_watcher_needs() -> None:
    """A hop whose values other workers read keeps thousands of short runs: a delta carries only
    the runs that are new or grew; folded, the watcher has every run the worker has (and the ones
    it let go of since, until its next checkpoint: they are never read)."""
    from genmon.model.delta import delta_of, fold

    def runs(upto: int) -> tuple[Made, ...]:  # one run per value: three origins, interleaved
        return tuple(
            Made(n, n, f"numbers@{'abc'[n % 3]}", n // 3 + 1, n * 10, n * 10) for n in range(1, upto + 1)
        )

    hop = replace(sender("h", 3000), name="double()", made_from=runs(3000))
    base = report("1", hop)
    grown = replace(hop, seq=3004, made_from=(*runs(3000)[10:], *runs(3004)[3000:]))  # 10 let go, 4 new
    now = report("1", grown, number=2)
    delta = delta_of(base, now, 2)
    assert [run.first for run in delta.sources[0].made_from] == [3001, 3002, 3003, 3004]
    assert len(encode(delta)) * 20 < len(encode(now))
    folded = fold(base, decode(encode(delta))).sources[0].made_from
    assert set(grown.made_from) <= set(folded) and len(folded) == 3004
    assert list(folded) == sorted(folded)
    longer = replace(
        grown, made_from=(*grown.made_from[:-1], Made(3004, 3006, "numbers@b", 1002, 30040, 30060))
    )
    again = fold(fold(base, delta), delta_of(now, report("1", longer, number=3), 3)).sources[0].made_from
    assert again[-1] == Made(3004, 3006, "numbers@b", 1002, 30040, 30060) and len(again) == 3004


def test_the_header_tells_workers_that_stopped_from_workers_that_fell_silent() -> None:
    from genmon.model import header_line

    fleet = Fleet()
    fleet.add(replace(report("1", sender("a", 50), interval=1.0), final=True), 0.0)  # said goodbye
    fleet.add(report("2", sender("b", 5), interval=1.0), 0.0)  # fell silent
    fleet.add(report("3", receiver("a", ids(1, 50)), interval=1.0), 9.5)
    snap, _ = merged(fleet, now=10.0)
    assert "workers 1 alive, 1 stopped, 1 gone" in header_line(snap)
    assert [w.to_dict()["state"] for w in snap.workers] == ["stopped", "gone", "alive"]


def ended(worker: str, state: AppState, error: str | None = None) -> WorkerReport:
    """A worker run's final report, its app in ``state``."""
    app = AppReading("app0", "fleet", state, error=error, readers={TOPIC: (AGENT,)})
    return replace(report(worker, sender(worker, 20), interval=1.0), final=True, apps=(app,))


def test_a_fleet_that_stopped_is_stopped_though_one_run_crashed_on_the_way() -> None:
    fleet = Fleet()
    fleet.add(ended("1", AppState.CRASHED, "TypeError: boom"), 0.0)  # an hour ago, started again since
    fleet.add(ended("2", AppState.STOPPED), 3600.0)
    fleet.add(ended("3", AppState.CRASHED, "NotReady: Producer service not yet started"), 3601.0)
    fleet.add(ended("4", AppState.STOPPED), 3604.0)  # told to stop as it started: the stop's doing
    snap, _ = merged(fleet, now=3700.0)
    assert snap.app_state == AppState.STOPPED
    assert all(not p.verdict.text.startswith("app crashed") for p in snap.pipelines), snap.pipelines


def test_a_fleet_whose_last_runs_crashed_is_crashed_and_says_why() -> None:
    fleet = Fleet()
    fleet.add(ended("1", AppState.STOPPED), 0.0)  # long before the end
    fleet.add(ended("2", AppState.CRASHED, "TypeError: boom"), 3600.0)
    fleet.add(ended("3", AppState.CRASHED, "TypeError: boom"), 3602.0)
    snap, _ = merged(fleet, now=3700.0)
    assert (snap.app_state, snap.error) == (AppState.CRASHED, "TypeError: boom")
    assert snap.pipelines[0].verdict.text == "app crashed: TypeError: boom"


def test_a_fleet_whose_last_run_fell_silent_stopped_reporting() -> None:
    fleet = Fleet()
    fleet.add(ended("1", AppState.STOPPED), 0.0)
    fleet.add(report("2", sender("b", 5), interval=1.0), 3600.0)  # killed without a goodbye
    snap, _ = merged(fleet, now=3700.0)
    assert snap.app_state == AppState.CRASHED
    assert snap.error == "every worker stopped reporting: w2 (host:2) fell silent 100s ago", snap.error


def test_the_watcher_lets_go_of_hop_runs_whose_values_some_worker_processed() -> None:
    """A worker keeps the origin of every hop value another worker reads (it cannot see that read):
    the watcher, which sees every worker's, drops the runs whose every value was processed, and
    judges and names a loss as it did before."""
    made = tuple(Made(n, n + 9, "numbers@h", n, n, n) for n in range(31, 101, 10))  # ids 31..100
    hop = replace(sender("h", 100, received=ids(1, 30)), name="double()", made_from=made)
    fleet = Fleet()
    fleet.add(report("1", sender("h", 100, received=ids(1, 100)), hop, interval=60.0), 0.0)
    other = replace(receiver("h", ids(31, 70, without=(61, 62, 63, 64))), name="double()")
    fleet.add(report("2", other, interval=60.0), 0.0)
    fleet.add(report("3", replace(receiver("h", ids(71, 80)), name="double()"), interval=60.0), 0.0)
    before, _ = merged(fleet, now=30.0)
    fleet.settle_hops()
    kept = next(s for s in fleet.heard["host:1:1"].report.sources if s.name == "double()").made_from
    assert [(run.first, run.last) for run in kept] == [(61, 70), (81, 90), (91, 100)]
    after, _ = merged(fleet, now=30.0)
    row = {p.name: p for p in after.pipelines}["double()"]
    assert row.verdict.lost == 24 and row.verdict == {p.name: p for p in before.pipelines}["double()"].verdict
    assert [p.came_from for p in after.pipelines] == [p.came_from for p in before.pipelines]
    assert row.came_from and row.came_from[0].ids.text() == "61-64, 81-100"
    grown = replace(
        hop,
        seq=105,
        sent=ids(1, 105),
        acked=ids(1, 105),
        made_from=(*made[-1:], Made(101, 105, "numbers@h", 101, 1, 1)),
    )
    fleet.add(
        replace(
            delta_of(
                fleet.heard["host:1:1"].report,
                report("1", sender("h", 100, received=ids(1, 100)), grown, number=2),
                2,
            )
        ),
        1.0,
    )
    folded = next(s for s in fleet.heard["host:1:1"].report.sources if s.name == "double()").made_from
    assert [(run.first, run.last) for run in folded] == [(61, 70), (81, 90), (91, 100), (101, 105)]
