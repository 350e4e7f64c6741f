"""Snapshot assembly is pure: hand-built readings in, snapshots out, no broker and no clock."""

from __future__ import annotations

from dataclasses import replace

from pyroaring import FrozenBitMap, FrozenBitMap64

from genmon.model import (
    AppReading,
    AppState,
    BrokerInfo,
    Cause,
    Clocks,
    InboundState,
    Reading,
    RowKind,
    SourceState,
    Stage,
    VerdictState,
    build,
)
from genmon.model.snapshot import PipelineSnapshot, WorkerStatus

BROKER = BrokerInfo("kafka://127.0.0.1:9092", embedded=True, up=True)


def ids(*ranges: tuple[int, int]) -> FrozenBitMap:
    return FrozenBitMap(n for a, b in ranges for n in range(a, b + 1))


def app(label: str = "app0", app_id: str = "shop", **kw) -> AppReading:  # type: ignore[no-untyped-def]
    return AppReading(label, app_id, kw.pop("state", AppState.RUNNING), **kw)


def reading(now: float, *sources: SourceState, apps=None, **kw) -> Reading:  # type: ignore[no-untyped-def]
    return Reading(now=now, broker=BROKER, apps=tuple(apps or (app(),)), sources=sources, **kw)


def orders(upto: int, *, sent: int | None = None, received: int | None = None, **kw) -> SourceState:  # type: ignore[no-untyped-def]
    sent = upto if sent is None else sent
    received = sent if received is None else received
    return SourceState(
        name="orders",
        function="shop.orders",
        kind=RowKind.ASYNC,
        owner="app0",
        seq=upto,
        sent=ids((1, sent)),
        acked=ids((1, sent)),
        received=ids((1, received)),
        processed={("orders", "charge"): ids((1, received))},
        topics=("orders",),
        agents=("charge",),
        **kw,
    )


def test_counts_and_missing_ids_come_from_the_id_sets() -> None:
    snap, _ = build(reading(0.0, orders(10, sent=10, received=7)), Clocks())
    (pipe,) = snap.pipelines
    assert pipe.counts.as_tuple() == (10, 10, 10, 7, 7)
    assert pipe.missing[Stage.RECEIVED].ranges == ((8, 10),)
    assert pipe.verdict.state == VerdictState.IN_FLIGHT and pipe.verdict.in_flight == 3
    assert pipe.app_id == "shop" and snap.apps[0].pipelines == ("orders",)


def test_a_shortfall_that_stops_moving_becomes_lost_after_the_settle_timeout() -> None:
    clocks = Clocks(settle_seconds=5.0)
    stuck = orders(10, received=7)
    for t in range(0, 5):  # quiet for less than 5 s: in flight
        snap, clocks = build(reading(float(t), stuck), clocks)
        assert snap.pipelines[0].verdict.state == VerdictState.IN_FLIGHT
    snap, clocks = build(reading(5.0, stuck), clocks)
    verdict = snap.pipelines[0].verdict
    assert (verdict.state, verdict.stage, verdict.lost, verdict.text) == (
        VerdictState.LOST,
        Stage.RECEIVED,
        3,
        "lost at received: 3",
    )


def _acked_stuck(upto: int, acked: int) -> SourceState:
    return replace(orders(upto, received=acked), acked=ids((1, acked)))


def test_a_loss_while_the_broker_did_not_answer_is_put_on_the_broker() -> None:
    from genmon.model import Outage, diagnose, problems
    from genmon.model.vocabulary import Problem

    clocks = Clocks(settle_seconds=5.0)
    flowing = [_acked_stuck(n, n) for n in range(1, 11)]
    for t, src in enumerate(flowing):  # 10 values acked as they are sent, one a second
        snap, clocks = build(reading(float(t), src), clocks)
    stuck = _acked_stuck(17, 10)  # 11-17 sent, never acked: the broker stopped at t=10
    down = Outage.begin("not answering", 10.0, 0.0)
    paused = replace(BROKER, up=False, state="not answering", outages=(down,))
    for t in range(10, 14):
        snap, clocks = build(replace(reading(float(t), stuck), broker=paused), clocks)
        verdict = snap.pipelines[0].verdict
        assert verdict.state == VerdictState.IN_FLIGHT
        assert "waiting for the broker (broker not answering since " in verdict.text
    back = replace(BROKER, outages=(down.ended(20.0, 10.0),))  # answering again at t=20
    snap, clocks = build(replace(reading(21.0, stuck), broker=back), clocks)
    pipe = snap.pipelines[0]
    verdict = pipe.verdict
    assert (verdict.state, verdict.stage, verdict.lost, verdict.cause) == (
        VerdictState.LOST,
        Stage.ACKED,
        7,
        Cause.BROKER,
    )
    assert verdict.text.startswith("lost with the broker at acked: 7 (broker not answering ")
    assert "ids 11-17 were on their way to acked" in diagnose(pipe).why
    assert problems(snap, [Problem.LOSS]) == [f"orders: {verdict.text}, ids 11-17"]


def test_a_loss_long_after_a_broker_outage_stays_the_apps() -> None:
    from genmon.model import Outage

    clocks = Clocks(settle_seconds=5.0)
    early = Outage.begin("down", 1.0, 0.0).ended(2.0, 1.0)  # over before the values stopped
    broker = replace(BROKER, outages=(early,))
    for t in range(0, 12):
        src = _acked_stuck(t + 1, t + 1) if t < 10 else orders(20, received=10)
        snap, clocks = build(replace(reading(float(t), src), broker=broker), clocks)
    snap, clocks = build(replace(reading(30.0, orders(20, received=10)), broker=broker), clocks)
    verdict = snap.pipelines[0].verdict
    assert verdict.state == VerdictState.LOST and verdict.cause is None
    assert verdict.text == "lost at received: 10"


def test_a_shortfall_on_a_group_shared_with_other_consumers_is_not_called_lost() -> None:
    from genmon.model import diagnose

    clocks = Clocks(settle_seconds=5.0)
    half = orders(20, received=11)  # the other instance's consumer took the rest
    for t in range(0, 7):
        snap, clocks = build(replace(reading(float(t), half), group_members={"shop": 2}), clocks)
    pipe = snap.pipelines[0]
    verdict = pipe.verdict
    assert verdict.state == VerdictState.UNVERIFIABLE and verdict.stage == Stage.RECEIVED
    assert verdict.text == (
        "unverifiable: 9 at received (1 other consumer in group shop takes a share of these partitions)"
    )
    assert "another instance of the app" in diagnose(pipe).why
    alone, _ = build(replace(reading(7.0, half), group_members={"shop": 1}), clocks)
    assert alone.pipelines[0].verdict.state == VerdictState.LOST  # only genmon's own worker: a loss


def test_a_reader_does_not_advance_the_clocks() -> None:
    """Building a snapshot returns new clocks; a reader that drops them leaves the sampler's alone."""
    clocks = Clocks(settle_seconds=5.0)
    _, clocks = build(reading(0.0, orders(10, received=7)), clocks)
    for t in (1.0, 2.0, 3.0):
        build(reading(t, orders(10, received=7)), clocks)  # readers: result thrown away
    assert clocks.rows["orders"].moved == (0.0,) * 5


def test_a_loss_seen_happen_is_lost_at_once_and_named() -> None:
    src = orders(9, received=9, damaged={Cause.CRASHED: ids((7, 7))})
    src = replace(src, processed={("orders", "charge"): ids((1, 6), (8, 9))})
    snap, _ = build(reading(0.0, src), Clocks())
    verdict = snap.pipelines[0].verdict
    assert (verdict.stage, verdict.cause, verdict.lost) == (Stage.PROCESSED, Cause.CRASHED, 1)
    assert verdict.text == "lost at processed: 1 (agent raised)"
    assert snap.pipelines[0].damaged[Cause.CRASHED].text() == "7"


def test_a_crashed_app_carries_its_exception_as_data() -> None:
    crashed = app(state=AppState.CRASHED, error="TypeError: boom")
    snap, _ = build(reading(0.0, orders(3), apps=[crashed]), Clocks())
    pipe = snap.pipelines[0]
    assert pipe.verdict.state == VerdictState.CRASHED and pipe.verdict.error == "TypeError: boom"
    assert pipe.verdict.text == "app crashed: TypeError: boom"
    assert snap.diagnose(pipe).why.startswith("the Faust app of this pipeline stopped: TypeError: boom.")


def test_fan_out_to_two_agents_is_processed_when_both_finished() -> None:
    src = replace(
        orders(5),
        processed={("orders", "charge"): ids((1, 5)), ("orders", "audit"): ids((1, 3))},
        agents=("charge", "audit"),
    )
    snap, _ = build(reading(0.0, src), Clocks())
    pipe = snap.pipelines[0]
    assert pipe.counts.processed == 3 and pipe.processed_by == {"charge": 5, "audit": 3}
    assert pipe.missing[Stage.PROCESSED].ranges == ((4, 5),)


def test_rows_follow_the_flow_and_listening_topics_get_rows() -> None:
    hop = SourceState(
        name="charge()",
        function="shop.charge",
        kind=RowKind.SENDER,
        owner="app0",
        seq=2,
        sent=ids((1, 2)),
        acked=ids((1, 2)),
        topics=("payments",),
    )
    shop = app(readers={"orders": ("charge",), "refunds": ("refund",)})
    snap, _ = build(
        reading(
            0.0,
            hop,
            orders(2),
            apps=[shop],
            listening_rows=True,
            inbound={"refunds": InboundState("refunds", 4)},
        ),
        Clocks(),
    )
    assert [p.name for p in snap.pipelines] == ["orders", "charge()", "refunds"]
    refunds = snap.pipeline("refunds")
    assert refunds.kind == RowKind.TOPIC and refunds.verdict.state == VerdictState.OK  # flowing, not idle
    assert refunds.verdict.text == "4 from untracked senders"


def test_sources_no_run_claimed_belong_to_the_first_app() -> None:
    """Generators declared at import time (``-A``), before any app run existed."""
    src = SourceState(name="imported", function="m.imported", kind=RowKind.SYNC, seq=1)
    snap, _ = build(reading(0.0, src, apps=[app("app0", "first"), app("app1", "second")]), Clocks())
    assert [a.pipelines for a in snap.apps] == [("imported",), ()]
    assert snap.pipelines[0].app_id == "first"


def test_the_json_reads_as_before() -> None:
    snap, _ = build(reading(0.0, orders(4, received=3)), Clocks())
    data = snap.to_dict()
    pipe = data["pipelines"][0]
    assert pipe["kind"] == "async" and pipe["verdict"]["state"] == "in_flight"
    assert pipe["missing"] == {"received": {"count": 1, "ranges": [[4, 4]], "more": False}}
    assert list(pipe["counts"]) == ["yielded", "sent", "acked", "received", "processed"]
    import json

    assert json.loads(json.dumps(data))["pipelines"][0]["duplicates"] == {}


def test_values_missing_beside_a_seen_loss_are_unverifiable_when_a_worker_is_gone() -> None:
    """A send raised for value 1; values 2-11 were received and never counted processed, and the
    worker that read them fell silent: the row names the loss it saw and calls the rest
    unverifiable, not lost — and with every worker alive, lost (and counted in the metric)."""
    src = orders(30, sent=30, received=30)
    src = replace(
        src,
        acked=ids((2, 30)),
        received=ids((2, 30)),
        processed={("orders", "charge"): ids((12, 30))},
        damaged={Cause.SEND_FAILED: ids((1, 1))},
        notes={Cause.SEND_FAILED: "send raised NotReady: Producer service not yet started"},
    )
    for gone, state, words in (
        (
            ("w2 (vm:41) fell silent 30s ago",),
            VerdictState.UNVERIFIABLE,
            "unverifiable: 10 at processed (w2 gone)",
        ),
        ((), VerdictState.LOST, "lost at processed: 10"),
    ):
        clocks = Clocks(settle_seconds=5.0)
        for t in range(8):
            snap, clocks = build(reading(float(t), src, apps=(app(gone=gone),)), clocks)
        verdict = snap.pipeline("orders").verdict
        assert (verdict.state, verdict.stage, verdict.lost) == (VerdictState.LOST, Stage.ACKED, 1)
        assert verdict.also is not None and verdict.also.state == state
        assert (
            verdict.text
            == f"lost at acked: 1 (send raised NotReady: Producer service not yet started) · {words}"
        )


def lifted(run: int, first: int, last: int) -> FrozenBitMap64:
    """Values ``first`` … ``last`` of worker run ``run`` as a fleet's row numbers them."""
    return FrozenBitMap64((run << 32) | n for n in range(first, last + 1))


def fleet_orders(
    sent: FrozenBitMap64, acked: FrozenBitMap64, done: FrozenBitMap64, raised: FrozenBitMap64 | None
) -> SourceState:
    """Runs 1 and 2 yielded 20 values each; ``raised``: the values whose send raised (seen)."""
    return replace(
        orders(0),
        seq=20,
        expected=lifted(1, 1, 20) | lifted(2, 1, 20),
        sent=sent,
        acked=acked,
        received=acked,
        processed={("orders", "charge"): done},
        damaged={Cause.SEND_FAILED: raised} if raised else {},
        notes={Cause.SEND_FAILED: "send raised KafkaTimeoutError"} if raised else {},
    )


def test_a_value_yielded_and_never_sent_is_unverifiable_only_when_its_own_worker_fell_silent() -> None:
    """A fleet's row (ids ``run << 32 | seq``): w1 stopped cleanly with its value 20 yielded and
    never sent, w2 fell silent. Only w1 could have sent w1:20, so it is lost, whoever else is gone
    — beside a seen loss and alone; the same value of w2's is unverifiable (w2 may have sent it
    after its last report). Ten minutes of chaos called w1's value `unverifiable (w2 gone)`."""
    workers = tuple(
        WorkerStatus(n, f"vm:{n}", ("shop",), alive=False, final=final, uptime=9.0, age=1.0)
        for n, final in ((1, True), (2, False))
    )
    gone = app(gone=("w2 (vm:2) fell silent 30s ago",))
    for unsent_by, seen, state in (
        (1, True, VerdictState.LOST),
        (1, False, VerdictState.LOST),
        (2, True, VerdictState.UNVERIFIABLE),
        (2, False, VerdictState.UNVERIFIABLE),
    ):
        sent = (lifted(1, 1, 20) | lifted(2, 1, 20)) - lifted(unsent_by, 20, 20)
        done = sent - lifted(2, 1, 1) if seen else sent  # w2:1's send raised
        src = fleet_orders(sent, done, done, lifted(2, 1, 1) if seen else None)
        clocks = Clocks(settle_seconds=5.0)
        for t in range(8):
            snap, clocks = build(reading(float(t), src, apps=(gone,), workers=workers), clocks)
        verdict = snap.pipeline("orders").verdict
        unsent = verdict.also if seen else verdict
        assert unsent is not None, verdict
        assert (
            unsent.state,
            unsent.stage,
            unsent.lost if state == VerdictState.LOST else unsent.in_flight,
        ) == (
            state,
            Stage.SENT,
            1,
        ), verdict


def test_values_unverifiable_at_several_stages_are_counted_at_each() -> None:
    """Beside a seen loss, w1's value 20 never sent and w2's values 1-5 never processed, w2 gone:
    each stage's count is said (it said `unverifiable: 6 at sent`, as if all six were never sent)."""
    sent = lifted(1, 1, 19) | lifted(2, 1, 20)
    acked = sent - lifted(2, 20, 20)  # its send raised: seen
    src = fleet_orders(sent, acked, acked - lifted(2, 1, 5), lifted(2, 20, 20))
    clocks = Clocks(settle_seconds=5.0)
    for t in range(8):
        snap, clocks = build(
            reading(float(t), src, apps=(app(gone=("w2 (vm:2) fell silent 30s ago",)),)), clocks
        )
    verdict = snap.pipeline("orders").verdict
    assert verdict.also is not None and verdict.also.state == VerdictState.UNVERIFIABLE
    assert verdict.text == (
        "lost at acked: 1 (send raised KafkaTimeoutError) · unverifiable: 1 at sent, 5 at processed (w2 gone)"
    )


def test_a_loop_stalled_elsewhere_is_not_blamed_on_the_rows_generator() -> None:
    from genmon.model.diagnosis import diagnose

    snap, _ = build(reading(0.0, orders(10)), Clocks())
    pipe = replace(snap.pipeline("orders"), loop_stalls=2)
    why = diagnose(pipe).why
    assert why.startswith("the app's event loop stalled 2 times, not in this generator")
    assert "held Faust's event loop" in diagnose(replace(pipe, stalls=1, longest_stall=0.4)).why


def test_values_behind_an_agent_a_decode_failure_stopped_are_stuck_beside_the_loss() -> None:
    """Values 5 and 10 did not decode (Faust commits them: lost); the agent the failures were
    thrown into read nothing after value 9, and values 11-30 wait on the topic: stuck with the
    crash, not lost — and a gate names them on a line of their own. Without the crash they are
    lost."""
    from genmon.model import problems
    from genmon.model.vocabulary import DEFAULT_FAIL_ON, Problem
    from genmon.tui.detail_panel import missing_text

    note = "agent charge raised ValueDecodeError('bad byte')"
    src = replace(
        orders(30, received=9),
        received=ids((1, 4), (6, 9)),
        processed={("orders", "charge"): ids((1, 4), (6, 9))},
        damaged={Cause.DECODE_FAILED: ids((5, 5), (10, 10))},
    )
    for crashes, state, line in (
        (
            {"charge": (note, 1001.0)},
            VerdictState.STUCK,
            f"stuck at received: 20 ({note} at ",
        ),
        ({}, VerdictState.LOST, "lost at received: 20"),
    ):
        clocks = Clocks(settle_seconds=5.0)
        row = app(readers={"orders": ("charge",)}, crashes=crashes)
        for t in range(8):
            snap, clocks = build(reading(float(t), src, apps=(row,), wall=1000.0 + t), clocks)
        verdict = snap.pipeline("orders").verdict
        assert (verdict.state, verdict.cause, verdict.lost) == (VerdictState.LOST, Cause.DECODE_FAILED, 2)
        assert verdict.also is not None and verdict.also.state == state
        assert verdict.also.text.startswith(line) and f" · {line}" in verdict.text
        found = problems(snap, DEFAULT_FAIL_ON)
        assert found[0] == "orders: ids 5, 10 could not be decoded"
        assert found[1:] == [f"orders: {verdict.also.text}"]
        assert problems(snap, [Problem.DECODE]) == found[:1]  # the rest is not a decode problem
        judged = (
            "missing at received (22: 2 lost, 20 stuck)"
            if state == VerdictState.STUCK
            else "lost at received (22)"
        )
        shown = missing_text(snap.pipeline("orders")).plain  # the detail panel says which are which
        assert f"ids {judged}: 5, 10-30" in shown, shown


def _outside(**kw) -> PipelineSnapshot:  # type: ignore[no-untyped-def]
    """The ``refunds`` row of an app fed from outside: 10 records landed, the group committed 4."""
    from genmon.model import TopicOffsets

    offsets = {"refunds": TopicOffsets("refunds", 4, 10, group="shop", committed=kw.pop("committed", 4))}
    shop = app(readers={"refunds": ("refund",)}, **kw)
    snap, _ = build(
        reading(
            0.0,
            apps=[shop],
            listening_rows=True,
            offsets=offsets,
            inbound={"refunds": InboundState("refunds", 4)},
        ),
        Clocks(),
    )
    return snap.pipeline("refunds")


def test_records_from_outside_on_a_topic_no_consumer_is_assigned_are_stuck_naming_the_fix() -> None:
    row = _outside(assigned=frozenset())
    assert row.verdict.state == VerdictState.STUCK and row.verdict.cause == Cause.UNASSIGNED
    assert row.verdict.in_flight == 6
    assert row.verdict.text.startswith("stuck at received: 6 (refunds is assigned to no consumer of shop")
    assert "--create-topics" in row.verdict.text


def test_records_from_outside_behind_a_crashed_agent_are_stuck() -> None:
    row = _outside(
        assigned=frozenset({"refunds"}), crashes={"refund": ("agent refund raised KeyError('x')", 1.0)}
    )
    assert row.verdict.state == VerdictState.STUCK and row.verdict.cause == Cause.AGENT_DEAD
    assert "agent refund raised KeyError('x')" in row.verdict.text and "lag 6" in row.verdict.text


def test_records_from_outside_the_group_has_not_reached_are_in_flight_never_lost() -> None:
    row = _outside(assigned=frozenset({"refunds"}))
    assert row.verdict.state == VerdictState.IN_FLIGHT and row.verdict.in_flight == 6
    assert row.verdict.text == "4 from untracked senders · 6 waiting on the broker"
    done = _outside(assigned=frozenset({"refunds"}), committed=10)
    assert done.verdict.state == VerdictState.OK


def test_a_fan_outs_why_names_every_topic_and_one_value_is_one_value() -> None:
    from genmon.model import Counts, diagnose
    from genmon.model.snapshot import Verdict

    fanout = PipelineSnapshot(
        name="echo()",
        generator="echo",
        kind=RowKind.SENDER,
        on=True,
        counts=Counts(4, 4, 4, 4, 4),
        verdict=Verdict(VerdictState.OK, "ok"),
        topics=("echo1", "echo2"),
        agents=("a", "b"),
    )
    assert diagnose(fanout).why.startswith("echo sends to echo1 and echo2 but")
    sink = PipelineSnapshot(
        name="out",
        generator="out",
        kind=RowKind.ASYNC,
        on=True,
        counts=Counts(1, 1, 1, 0, 0),
        verdict=Verdict(VerdictState.OK, "ok · to sink results"),
        topics=("results",),
        sinks=("results",),
    )
    assert diagnose(sink).why.startswith("1 value left the app by results")


def test_values_in_a_take_batch_are_in_flight_until_its_window_can_have_closed() -> None:
    """An agent batching with take(100, within=10): values received and not yet processed are in
    flight for the settle timeout plus the window (a trickle's batch is done only when it closes),
    then judged as usual."""
    received = replace(orders(10), processed={("orders", "charge"): ids((1, 3))})  # 4-10 in the batch
    batching = app(readers={"orders": ("charge",)}, windows={"charge": 10.0})
    clocks = Clocks(settle_seconds=5.0)
    for t in range(0, 15):  # quiet for 5 s (the settle timeout) and more: still in flight
        snap, clocks = build(reading(float(t), received, apps=[batching]), clocks)
        verdict = snap.pipelines[0].verdict
        assert verdict.state == VerdictState.IN_FLIGHT, (t, verdict)
    assert verdict.text == "ok · 7 in flight (a take() batch holds values up to 10 s)"
    snap, clocks = build(reading(15.0, received, apps=[batching]), clocks)
    assert snap.pipelines[0].verdict.state == VerdictState.LOST  # the window is over: quiet as ever
    plain = app(readers={"orders": ("charge",)})  # no window: lost after the settle timeout
    snap, clocks = build(reading(0.0, received, apps=[plain]), Clocks(settle_seconds=5.0))
    snap, clocks = build(reading(6.0, received, apps=[plain]), clocks)
    assert snap.pipelines[0].verdict.state == VerdictState.LOST
