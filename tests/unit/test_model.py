"""The rules behind the verdicts: in flight versus lost, seen losses first, send failures."""

from __future__ import annotations

import pytest

from genmon.model import Cause, Clocks, Counts, MissingIds, PipelineSnapshot, Stage, Verdict


def test_a_moving_backlog_is_in_flight_and_a_stuck_one_is_lost() -> None:
    clocks = Clocks(settle_seconds=5.0).observe({"p": Counts(10, 10, 10, 4, 4)}, now=0.0)
    for t in range(1, 20):  # received keeps moving: never lost, however long
        counts = Counts(10 + t, 10 + t, 10 + t, 4 + t, 4 + t)
        clocks = clocks.observe({"p": counts}, now=float(t))
        verdict = clocks.verdict("p", counts, on=True, now=float(t))
        assert verdict.state == "in_flight" and verdict.in_flight == 6
    stuck = Counts(40, 40, 40, 23, 23)
    for t in range(20, 26):
        clocks = clocks.observe({"p": stuck}, now=float(t))
    verdict = clocks.verdict("p", stuck, on=True, now=25.0)
    assert (verdict.state, verdict.stage, verdict.lost) == ("lost", "received", 17)
    assert verdict.text == "lost at received: 17"


def test_a_seen_loss_is_reported_at_once_and_named() -> None:
    counts = Counts(20, 20, 20, 20, 17)
    clocks = Clocks(settle_seconds=5.0).observe({"p": counts}, now=0.0)
    verdict = clocks.verdict("p", counts, on=True, now=0.1, seen={Stage.PROCESSED: (3, Cause.CRASHED)})
    assert (verdict.state, verdict.stage, verdict.lost, verdict.cause) == ("lost", "processed", 3, "crashed")
    assert verdict.text == "lost at processed: 3 (agent raised)"


def test_paused_then_lost_only_after_the_settle_timeout() -> None:
    """One settle rule, paused or not: a shortfall is in flight until its stage was still for the
    settle timeout (no shortcut at the end of a run)."""
    counts = Counts(5, 5, 5, 5, 5)
    clocks = Clocks().observe({"p": counts}, now=0.0)
    assert clocks.verdict("p", counts, on=False, now=0.0).text == "paused"
    short = Counts(5, 5, 3, 3, 3)
    clocks = clocks.observe({"p": short}, now=0.1)
    early = clocks.verdict("p", short, on=False, now=4.0)
    assert (early.state, early.in_flight) == ("paused", 2) and early.text == "paused · 2 in flight"
    late = clocks.verdict("p", short, on=False, now=5.2)
    assert (late.state, late.stage, late.lost) == ("lost", "acked", 2)


def test_sends_with_no_outcome_count_as_send_failed_once_settled() -> None:
    lost = Verdict("lost", "lost at acked: 2", "acked", lost=2)
    pipe = PipelineSnapshot(
        "p",
        "gen",
        "async",
        False,
        Counts(5, 5, 3, 3, 3),
        lost,
        missing={"acked": MissingIds(2, ((4, 5),))},
        damaged={"send_failed": MissingIds(1, ((9, 9),))},
    )
    assert pipe.send_failed == 3
    assert pipe.to_dict()["send_failed"] == 3
    in_flight = PipelineSnapshot("p", "gen", "async", True, Counts(5, 5, 3, 3, 3), Verdict("in_flight", "ok"))
    assert in_flight.send_failed == 0
    assert MissingIds(4, ((1, 3), (7, 7)), more=True).text() == "1-3, 7, …"


def test_crash_text_names_the_error_behind_mode_and_worker_wrappers() -> None:
    from genmon.model.text import root_error, wraps_nothing

    class MaxRestartsExceeded(Exception):
        pass

    try:
        try:
            raise KeyError("OH NO")
        except KeyError as exc:
            raise MaxRestartsExceeded() from exc
    except MaxRestartsExceeded as wrapped:
        assert repr(root_error(wrapped)) == "KeyError('OH NO')" and not wraps_nothing(wrapped)
    assert wraps_nothing(SystemExit(1)) and root_error(ValueError("x")).args == ("x",)


def test_a_partition_mismatch_is_diagnosed_as_configuration_not_code() -> None:
    from genmon.model.diagnosis import diagnose

    crashed = Verdict(
        "crashed", "app crashed", error="PartitionsMismatch: The source topic 'words' has 4 partitions"
    )
    pipe = PipelineSnapshot("p", "gen", "async", True, Counts(5, 5, 5, 0, 0), crashed, topics=("words",))
    why = diagnose(pipe, (), (), ())
    assert "configuration error" in why.why and "topic_partitions" in why.fix and "try" not in why.fix


def test_stages_that_do_not_apply_are_shown_as_a_dash() -> None:
    from genmon.model import count_text

    ok = Verdict("ok", "ok")
    through_channel = PipelineSnapshot(
        "p", "gen", "async", True, Counts(5, 5, 5, 5, 5), ok, topics=("channel:work",)
    )
    to_sink = PipelineSnapshot(
        "q", "gen", "async", True, Counts(5, 5, 5, 0, 0), ok, topics=("out",), sinks=("out",)
    )
    assert [count_text(through_channel, s) for s in ("sent", "acked", "received")] == ["5", "—", "5"]
    assert [count_text(to_sink, s) for s in ("acked", "received", "processed")] == ["5", "—", "—"]


def test_the_fix_for_an_unsent_generator_runs_for_its_kind() -> None:
    from genmon.model.diagnosis import diagnose

    lost = Verdict("lost", "lost at sent: 5", "sent", lost=5)
    for kind, loop in (
        ("sync", "    for value in numbers():"),
        ("async", "    async for value in numbers():"),
    ):
        pipe = PipelineSnapshot("p", "mod.numbers", kind, True, Counts(5, 0, 0, 0, 0), lost)
        fix = diagnose(pipe, (), (), ()).fix
        assert any(line.split("#")[0].rstrip() == loop for line in fix.splitlines()), (kind, fix)
        compile(fix, "<fix>", "exec")  # it parses


def test_broker_urls_in_every_form_faust_accepts() -> None:
    from genmon.broker import BrokerError, parse_broker_url

    assert parse_broker_url("kafka://localhost").bootstrap == "localhost:9092"  # Faust's default port
    assert parse_broker_url("aiokafka://h:1").url == "kafka://h:1"  # the transport's alias
    assert parse_broker_url("kafka://a:1,b:2").bootstrap == "a:1,b:2"
    assert parse_broker_url("kafka://a:1;kafka://b").servers == (("a", 1), ("b", 9092))
    assert parse_broker_url(["kafka://a:1", "kafka://b"]).servers == (("a", 1), ("b", 9092))
    assert parse_broker_url("kafka://[::1]:9092").bootstrap == "[::1]:9092"
    for bad in ("not a url", "http://x:1", "kafka://h:99999", "kafka://h:1/path", ""):
        with pytest.raises(BrokerError, match="malformed broker URL"):
            parse_broker_url(bad)


def test_long_names_in_the_flow_lose_their_middle_except_in_full() -> None:
    from genmon.model import flow

    reply = "f-reply-2c3dbd9d-6113-4b85-8f33-9dc2acf82aac"
    ok = Verdict("ok", "ok")
    pipe = PipelineSnapshot(
        "double()", "", "sender", True, Counts(1, 1, 1, 1, 1), ok, topics=(reply,), agents=("replies",)
    )
    assert flow(pipe) == "double() → f-reply-2c3d…9dc2acf82aac → replies"
    assert flow(pipe, full=True) == f"double() → {reply} → replies"


def test_the_view_sorts_problems_first_filters_and_groups_only_when_it_helps() -> None:
    from dataclasses import replace as copy

    from fakes import BusyMonitor, demo_monitor

    from genmon.model.view import Only, SortBy, View, arrange, grouped, ordered, rows_line

    snap = BusyMonitor(12, apps=3).snap
    groups = arrange(snap.pipelines, View())
    assert grouped(groups) and groups[0].app_id == "shop-1"  # the app with the lost row
    assert rows_line(list(snap.pipelines)) == "12 pipelines: 1 lost · 1 paused · 10 ok"
    catalogue = tuple(copy(p, app_id=f"app-{i}") for i, p in enumerate(demo_monitor().snap.pipelines))
    one_app_each = arrange(catalogue, View())
    assert not grouped(one_app_each)  # one row per app: headers would only add noise
    assert [p.name for p in ordered(one_app_each, View())] == ["unwired", "async-pump", "sync-pump"]
    assert [p.name for p in ordered(one_app_each, View(sort=SortBy.NAME))] == [
        "async-pump",
        "sync-pump",
        "unwired",
    ]
    assert [p.name for p in ordered(arrange(catalogue, View(only=Only.PAUSED)), View())] == ["async-pump"]
    for sort in SortBy:  # a filter that empties some apps' groups, under every order
        only_problems = View(sort=sort, only=Only.PROBLEMS)
        assert [p.name for p in ordered(arrange(catalogue, only_problems), only_problems)] == ["unwired"]
    assert [p.name for p in ordered(arrange(catalogue, View(text="UNWIR")), View())] == ["unwired"]
    by_rate = View(sort=SortBy.RATE)
    fastest = ordered(arrange(catalogue, by_rate), by_rate, {"sync-pump": 9.0})[0]
    assert fastest.name == "sync-pump"


def test_where_is_a_value_follows_its_hops_and_names_where_it_stopped() -> None:
    """The path of a value lost silently at a later hop: its first row, then the hop's id and time,
    stopped in words; asked by the hop's own id, the same path (it starts at the origin); a value
    that died inside a hop (its agent raised) is named there without a hop id."""
    from dataclasses import replace

    from fakes import hops_monitor
    from pyroaring import FrozenBitMap

    from genmon.model import Refused, build, downstream_key
    from genmon.model.path import value_path

    monitor = hops_monitor()
    path = monitor.path("orders", 7)
    assert [(s.row, s.id, s.ok) for s in path.steps] == [("orders", 7, True), ("misroute()", 6, False)]
    assert path.steps[1].at == "22:13:20.006" and path.steps[1].fate.startswith("lost at received: probably")
    assert monitor.path("misroute()", 6) == path
    assert [s.row for s in monitor.path("orders", 8).steps] == ["orders"]  # passed every hop: let go
    with pytest.raises(Refused, match="no value 0"):
        monitor.path("orders", 0)
    with pytest.raises(Refused, match="no pipeline named 'nope'"):
        monitor.path("nope", 1)
    reading = monitor.reading
    assert reading is not None
    orders = reading.sources[0]
    key = downstream_key("bill()", Cause.CRASHED)
    crashed = replace(
        orders,
        downstream={key: FrozenBitMap([9])},
        downstream_notes={key: "agent bill raised RuntimeError('cannot bill order 9')"},
    )
    reading = replace(reading, sources=(crashed, *reading.sources[1:]))
    snap, _ = build(reading, Clocks(5.0))
    steps = value_path(reading, snap, "orders", 9).steps
    assert [(s.row, s.id, s.ok) for s in steps] == [("orders", 9, True), ("bill()", None, False)]
    assert steps[1].line() == "bill(): died here: agent bill raised RuntimeError('cannot bill order 9')"


def test_a_seen_loss_never_hides_values_missing_further_on() -> None:
    """One value's send raised (seen, at acked); 25 more never reached processed and that stage
    went quiet: lost too, said apart (nobody saw them die) — while processed still moves, they are
    in flight and the verdict waits for them."""
    counts = Counts(100, 100, 99, 99, 74)
    seen = {Stage.ACKED: (1, Cause.SEND_FAILED)}
    clocks = Clocks(settle_seconds=5.0).observe({"p": counts}, now=0.0)
    moving = clocks.verdict("p", counts, on=False, now=1.0, seen=seen)
    assert (moving.lost, moving.in_flight, moving.also) == (1, 25, None)
    quiet = clocks.verdict("p", counts, on=False, now=6.0, seen=seen)
    assert (quiet.state, quiet.stage, quiet.lost, quiet.in_flight) == ("lost", "acked", 1, 0)
    assert quiet.also is not None
    assert (quiet.also.state, quiet.also.stage, quiet.also.lost, quiet.also.proof) == (
        "lost",
        "processed",
        25,
        "quiet",
    )
    assert Verdict(**{**quiet.to_dict(), "also": quiet.also.to_dict()}).also == quiet.also  # JSON round trip


def test_a_seen_loss_never_hides_values_missing_before_it() -> None:
    """One value's send raised (seen, at acked); another was yielded and never sent (its worker
    stopped between the yield and the send): lost at sent too once sent went quiet, in flight while
    it moves. Ten minutes of chaos found the second one named nowhere, neither lost nor in flight."""
    counts = Counts(100, 99, 98, 98, 98)
    seen = {Stage.ACKED: (1, Cause.SEND_FAILED)}
    clocks = Clocks(settle_seconds=5.0).observe({"p": counts}, now=0.0)
    moving = clocks.verdict("p", counts, on=False, now=1.0, seen=seen)
    assert (moving.stage, moving.lost, moving.in_flight, moving.also) == ("acked", 1, 1, None)
    quiet = clocks.verdict("p", counts, on=False, now=6.0, seen=seen)
    assert (quiet.stage, quiet.lost, quiet.in_flight) == ("acked", 1, 0)
    assert quiet.also is not None
    assert (quiet.also.stage, quiet.also.lost, quiet.also.proof) == ("sent", 1, "quiet")


def test_values_missing_beside_a_seen_loss_at_several_stages_are_counted_at_each() -> None:
    """Beside a seen loss, 2 values never sent and 7 never processed, both stages quiet: one verdict
    says both, each with its count (it said `lost at sent: 9`, as if all nine were never sent)."""
    counts = Counts(100, 98, 97, 97, 90)
    clocks = Clocks(settle_seconds=5.0).observe({"p": counts}, now=0.0)
    verdict = clocks.verdict("p", counts, on=False, now=6.0, seen={Stage.ACKED: (1, Cause.SEND_FAILED)})
    assert verdict.also is not None
    assert (verdict.also.stage, verdict.also.lost) == ("sent", 9)
    assert verdict.also.text == "lost: 2 at sent, 7 at processed"
    assert verdict.also.shortfalls == ((Stage.SENT, 2), (Stage.PROCESSED, 7))
