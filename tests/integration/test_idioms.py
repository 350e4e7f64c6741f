"""Faust idioms counted right: one small app per idiom (tests/apps/), exact counts and ids.

Each app numbers its values from 1, so the ids a test expects lost are known in advance.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable

import pytest
from conftest import broker_args, owned
from test_user_apps import check, counts, settled, user_app

from genmon.broker import BrokerProcess
from genmon.model import DEFAULT_FAIL_ON, BrokerInfo, Problem, Snapshot, problems
from genmon.watch.waiting import wait_for

PROBE_SIDE = pytest.mark.brokers("embedded")
"""What the probe does inside Faust, the same whatever the broker: proven on the embedded broker.
Fan-out and request/reply (delivery, and Faust's reply consumer against the broker) run on both."""


def reached(*goals: tuple[str, str, int]) -> Callable[[Snapshot], bool]:
    """A wait condition: each ``(row, stage, count)`` has that count (rows appear as values flow)."""

    def check(snap: Snapshot) -> bool:
        counts = {p.name: p.counts for p in snap.pipelines}
        return all(name in counts and counts[name][stage] == n for name, stage, n in goals)

    return check


def ids(snap: Snapshot, name: str, cause: str) -> set[int]:
    pipe = snap.pipeline(name)
    found = pipe.damaged.get(cause)
    return {n for a, b in found.ranges for n in range(a, b + 1)} if found else set()


@PROBE_SIDE
def test_a_crash_inside_a_take_batch_loses_that_batch(broker: BrokerProcess) -> None:
    from tests.apps import batches

    with user_app(broker, "tests.apps.batches") as host:
        snap = settled(
            host,
            reached(
                ("bad-batches", "received", batches.VALUES), ("good-batches", "processed", batches.VALUES)
            ),
        )
        seen = sys.modules["tests.apps.batches"].seen_batches
    assert counts(snap, "good-batches") == (batches.VALUES,) * 5  # batches of a correct agent: no loss
    assert sorted(n for batch in seen for n in batch) == list(range(1, batches.VALUES + 1))
    bad = snap.pipeline("bad-batches")
    crashed = ids(snap, "bad-batches", "crashed")
    assert batches.BAD in crashed and len(crashed) <= 5
    missing = bad.missing["processed"]  # the batch (ids from several partitions): exactly the crashed ones
    assert {n for a, b in missing.ranges for n in range(a, b + 1)} == crashed
    assert bad.counts.as_tuple() == (batches.VALUES,) * 4 + (batches.VALUES - len(crashed),)
    assert bad.verdict.state == "lost" and bad.verdict.stage == "processed"
    assert "agent failing_batches raised KeyError('OH NO')" in bad.verdict.text


@PROBE_SIDE
def test_send_soon_is_credited_to_the_value_that_buffered_it(broker: BrokerProcess) -> None:
    from tests.apps import buffered

    with user_app(broker, "tests.apps.buffered") as host:
        snap = settled(host, reached(("soon-orders", "processed", buffered.VALUES)))
    assert counts(snap, "soon-orders") == (buffered.VALUES,) * 5
    assert snap.pipeline("soon-orders").verdict.state in ("ok", "paused")
    heartbeat = snap.pipeline("heartbeat()")  # the timer, named after itself, not Faust's producer task
    assert heartbeat.kind == "sender" and heartbeat.counts.sent >= 3
    assert heartbeat.topics == ("buffered-ticks",)
    assert {p.name for p in snap.pipelines} == {"soon-orders", "heartbeat()"}


@PROBE_SIDE
def test_an_acks_false_topic_counts_received_once(broker: BrokerProcess) -> None:
    from tests.apps import unacked

    with user_app(broker, "tests.apps.unacked") as host:
        snap = settled(host, reached(("metrics", "processed", unacked.VALUES)))
    pipe = snap.pipeline("metrics")
    assert pipe.counts.as_tuple() == (unacked.VALUES,) * 5
    assert pipe.processed_by == {"store": unacked.VALUES, "alert": unacked.VALUES}
    assert pipe.duplicates.get("received", 0) == 0 and pipe.verdict.state in ("ok", "paused")


@PROBE_SIDE
def test_a_stored_send_dropped_later_is_blamed_on_the_value_it_carried(broker: BrokerProcess) -> None:
    from tests.apps import deferred

    dropped = set(range(3, deferred.VALUES - 2, 3))
    with user_app(broker, "tests.apps.deferred") as host:
        snap = settled(host, reached(("deferred", "processed", deferred.VALUES - len(dropped))))
    pipe = snap.pipeline("deferred")
    assert ids(snap, "deferred", "unawaited") == dropped
    kept = deferred.VALUES - len(dropped)
    assert pipe.counts.as_tuple() == (deferred.VALUES, kept, kept, kept, kept)
    missing = pipe.missing["sent"]
    assert {
        n for a, b in missing.ranges for n in range(a, b + 1)
    } == dropped  # never sent, never double-counted
    assert pipe.verdict.state == "lost" and pipe.verdict.stage == "sent"


@PROBE_SIDE
def test_a_slow_consumer_is_waited_for_not_called_lost(broker: BrokerProcess) -> None:
    """2.5 s per value, a value a second: check waits while the backlog drains (old rule: 2 s of quiet
    and every shortfall lost)."""
    done = check("-A", "tests.apps.slow", *broker_args(broker), "--duration", "4", "--json", timeout=150)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    (jobs,) = [p for p in report["pipelines"] if p["name"] == "jobs"]
    counts = jobs["counts"]
    assert counts["yielded"] >= 4
    assert [counts[s] for s in ("sent", "acked", "received", "processed")] == [counts["yielded"]] * 4
    assert jobs["verdict"]["state"] == "paused" and report["still_draining"] == []


class _Draining:
    """A monitor whose one row never finishes draining (the pure half of the wait's limit)."""

    def __init__(self) -> None:
        from genmon.model import Counts, PipelineSnapshot, Verdict, VerdictState

        pipe = PipelineSnapshot(
            "jobs",
            "make_jobs",
            "async",
            False,
            Counts(9, 9, 9, 5, 4),
            Verdict(VerdictState.PAUSED, "paused", in_flight=5),
        )
        self.snap = Snapshot("app", BrokerInfo("kafka://x:1", True, True), "running", (pipe,))

    def snapshot(self, fresh: bool = False) -> Snapshot:
        return self.snap


def test_the_wait_for_draining_rows_is_bounded_and_names_them() -> None:
    from genmon.watch.waiting import drain_limit, wait_settled

    drained = wait_settled(_Draining(), limit=0.5)  # type: ignore[arg-type]
    assert not drained and drained.draining == ("jobs",) and 0.5 <= drained.waited < 1.5
    assert drain_limit(5.0) == 60.0 and drain_limit(10.0) > drain_limit(5.0)


@PROBE_SIDE
def test_sender_rows_are_named_after_the_timer_and_task_not_their_helpers(broker: BrokerProcess) -> None:
    from tests.apps import helpers

    with user_app(broker, "tests.apps.helpers") as host:
        snap = settled(host, reached(("backfill()", "processed", helpers.SENDS)))
    names = {p.name for p in snap.pipelines if p.kind == "sender"}
    assert names == {"reconcile()", "backfill()"}
    assert counts(snap, "backfill()") == (helpers.SENDS,) * 5


@PROBE_SIDE
def test_an_output_topic_is_a_sink_and_a_near_miss_is_a_wrong_topic(broker: BrokerProcess) -> None:
    from tests.apps import sinks

    with user_app(broker, "tests.apps.sinks", topics=("sinks-enriched", "sinks-payment")) as host:
        snap = settled(
            host, reached(("enrich()", "acked", sinks.VALUES), ("payments", "acked", sinks.VALUES))
        )
    assert counts(snap, "orders") == (sinks.VALUES,) * 5
    enrich = snap.pipeline("enrich()")
    assert enrich.counts.as_tuple() == (sinks.VALUES,) * 3 + (0, 0)
    assert enrich.sinks == ("sinks-enriched",) and enrich.verdict.state == "ok"
    assert "to sink sinks-enriched" in enrich.verdict.text
    # received and processed do not apply to a sink row: not counted, never missing
    as_json = enrich.to_dict()
    assert as_json["counts"]["received"] is None and as_json["counts"]["processed"] is None
    assert as_json["missing"] == {}
    assert "output topic" in snap.diagnose(enrich).why
    wrong = snap.pipeline("payments")
    assert wrong.verdict.state == "lost" and wrong.verdict.stage == "received"
    assert (
        "probably a wrong topic name: sent to sinks-payment, your agent reads sinks-payments"
        in wrong.verdict.text
    )
    assert problems(snap, [Problem.UNREAD]) == [
        "enrich(): values went to sinks-enriched, which no agent reads (declare an output topic with --sink)"
    ]
    assert problems(snap, [Problem.UNREAD], declared_sinks=["sinks-enriched"]) == []
    assert not [line for line in problems(snap, DEFAULT_FAIL_ON) if line.startswith("enrich")]


@PROBE_SIDE
def test_a_channel_is_a_hop_like_a_topic(broker: BrokerProcess) -> None:
    from tests.apps import channels

    with user_app(broker, "tests.apps.channels") as host:
        snap = settled(
            host,
            reached(("jobs", "processed", channels.VALUES), ("worker()", "processed", channels.VALUES // 5)),
        )
        app = sys.modules["tests.apps.channels"]
        handled, parked = sorted(app.handled), sorted(app.parked)
    jobs = snap.pipeline("jobs")
    assert jobs.counts.as_tuple() == (channels.VALUES,) * 5 and jobs.verdict.state in ("ok", "paused")
    assert jobs.topics == ("channel:worker",) and jobs.agents == ("worker",)
    dead = snap.pipeline("worker()")  # the agent forwarding to the dead-letter channel: hop two
    assert dead.counts.as_tuple() == (channels.VALUES // 5,) * 5
    assert dead.topics == ("channel:park",) and dead.agents == ("park",)
    assert parked == list(range(5, channels.VALUES + 1, 5)) and len(handled) == channels.VALUES - len(parked)
    assert not dead.sinks and not [p for p in snap.pipelines if p.kind == "topic"]


def test_fan_out_is_two_deliveries_never_a_duplicate(broker: BrokerProcess) -> None:
    from tests.apps import fanout

    n = fanout.VALUES
    with user_app(broker, "tests.apps.fanout", topics=("fanout-billings",)) as host:
        snap = settled(host, reached(("orders", "processed", n), ("refunds", "acked", n)))
    orders = snap.pipeline("orders")
    assert orders.counts.as_tuple() == (n,) * 5 and not any(orders.duplicates.values())
    assert orders.processed_by == {"record": n, "bill": n} and orders.verdict.state in ("ok", "paused")
    refunds = snap.pipeline("refunds")  # received on fanout-audit, never on the misspelt fanout-billings
    assert refunds.counts.as_tuple() == (n, n, n, 0, 0) and not any(refunds.duplicates.values())
    assert refunds.verdict.state == "lost" and refunds.verdict.stage == "received"
    assert refunds.missing["received"].count == n
    assert "sent to fanout-billings, your agent reads fanout-billing" in refunds.verdict.text


@PROBE_SIDE
def test_correct_programs_stay_exact(broker: BrokerProcess) -> None:
    from tests.apps import correct

    n = correct.VALUES
    with user_app(broker, "tests.apps.correct") as host:
        snap = settled(
            host, reached(*((name, "processed", n) for name in ("keyed", "casts", "shared", "double()")))
        )
        kept = sorted(sys.modules["tests.apps.correct"].kept)
    for name in ("keyed", "casts", "shared", "double()"):
        pipe = snap.pipeline(name)
        assert pipe.counts.as_tuple() == (n,) * 5, name
        assert not any(pipe.duplicates.values()) and pipe.verdict.state in ("ok", "paused"), (
            name,
            pipe.verdict,
        )
    assert snap.pipeline("keyed").processed_by == {"per_key": n}
    assert snap.pipeline("double()").topics == ("correct-results",)
    assert snap.pipeline("shared").processed_by == {"everything": n, "odd_only": n}  # filtered: decided, done
    assert kept == list(range(1, n + 1, 2))


def test_request_reply_gets_its_replies_and_names_the_reply_topic(broker: BrokerProcess) -> None:
    # Faust's stop waits for the reply topic's messages to be acked, which its reply consumer never
    # does (a plain `faust worker` hangs the same way): stop after 3 s, not the default 15.
    with user_app(broker, "tests.apps.replies", stop_seconds=3.0) as host:
        if not owned(broker):
            # Apache Kafka, the app as it is (reply_create_topic=False): Faust's reply consumer
            # subscribes at the first ask and resubscribes up to 45 s later; the first reply waits.
            snap = wait_for(host, reached(("double()", "acked", 1)), 30)
            time.sleep(7)  # past the settle timeout: still not "lost", never a sink
            snap = host.snapshot(fresh=True)
            double = snap.pipeline("double()")
            assert double.verdict.state == "in_flight" and not double.sinks, double.verdict
            assert (
                "reply consumer" in double.verdict.text
                and "reply_create_topic=True" in snap.diagnose(double).fix
            )
            return
        snap = settled(host, reached(("questions", "processed", 3), ("double()", "processed", 3)))
        answers = list(sys.modules["tests.apps.replies"].answers)
    asked = snap.pipeline("questions").counts.yielded
    assert snap.pipeline("questions").counts.as_tuple() == (asked,) * 5
    double = snap.pipeline("double()")  # the agent's replies, read by Faust's reply consumer
    assert double.counts.as_tuple() == (asked,) * 5 and double.agents == ("replies",)
    assert double.verdict.state in ("ok", "paused") and not double.sinks
    assert answers == [2 * n for n in range(1, len(answers) + 1)] and len(answers) >= asked - 1
    assert not [p for p in snap.pipelines if p.kind == "topic"]  # the reply topic is no listening row


@PROBE_SIDE
def test_copied_and_forged_id_headers_never_count_as_the_pipelines_values(broker: BrokerProcess) -> None:
    """Any producer can copy a record with its ``genmon-id`` header: a copy of a value already
    processed is a duplicate (no decode failure, no reorder, no new latency); an id the run never
    yielded, or stamped before the run began, is counted apart (``forged``), never as the row's."""
    import asyncio

    from aiokafka import AIOKafkaProducer

    from tests.apps import hostile

    with user_app(broker, "tests.apps.hostile") as host:
        snap = settled(host, reached(("numbers", "processed", hostile.VALUES)))
        before = snap.pipeline("numbers")
        prefix = host.probe.sources["numbers"].header_value_prefix
        now_us = time.time_ns() // 1000
        forged = [
            (b"5", prefix + b"5:%d" % now_us),  # a copy of value 5, already processed
            (b'"five"', prefix + b"5:%d" % now_us),  # the same id, undecodable: not a decode failure
            (b"999999", prefix + b"999999:%d" % now_us),  # never yielded
            (b"3", prefix + b"3:%d" % (host.probe.started_us - 3_600_000_000)),  # an hour before the run
        ]

        async def send() -> None:
            producer = AIOKafkaProducer(bootstrap_servers=broker.address.bootstrap)
            await producer.start()
            try:
                for value, header in forged:
                    await producer.send_and_wait("hostile-numbers", value, headers=[("genmon-id", header)])
            finally:
                await producer.stop()

        asyncio.run(send())
        deadline = time.monotonic() + 20
        while host.probe.forged < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)
        after = host.snapshot(fresh=True).pipeline("numbers")
    assert host.probe.forged >= 2  # received (and processed) by the agent, counted apart
    assert after.counts.as_tuple() == (hostile.VALUES,) * 5, after.counts
    assert after.verdict.lost == 0 and not after.damaged, after.damaged
    assert after.reorders == 0
    # the decodable copy of id 5 is a duplicate; the undecodable one fails in Faust's decoding, which
    # genmon hears of (it would be "decode failed") but id 5 was processed already: never re-marked
    assert after.duplicates.get("received", 0) >= 1
    assert after.latency_ms.get("max", 0.0) <= max(before.latency_ms.get("max", 0.0), 60_000.0)
