"""Loss named while values keep flowing, proven by Kafka's own order (docs/ARCHITECTURE.md, "In
flight versus lost") — on the real brokers, with the generators running throughout, never paused —
and nothing named lost that was not: a minute of lagging, reordering, restarted consumers."""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from typing import Any

from conftest import catalogue_host
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_text import samples
from test_user_apps import user_app

from genmon.broker import BrokerProcess
from genmon.model import DEFAULT_FAIL_ON, Cause, Proof, Snapshot, Stage, VerdictState, problems
from genmon.model.ids import MissingIds
from genmon.watch.metrics import SnapshotCollector
from genmon.watch.waiting import wait_for

POSITION_CAUSES = (Cause.SKIPPED, Cause.LATE_JOIN, Cause.EXPIRED)


def test_the_catalogues_late_consumer_is_named_while_it_flows(broker: BrokerProcess) -> None:
    """The consumer joins 3 s late with ``consumer_auto_offset_reset='latest'``: the values written
    before its first read are named lost, by id, within the settle timeout + 2 s of that read,
    while the generator goes on."""
    app_id = f"live{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as datadir:
        host = catalogue_host(broker, "late-consumer", app_id, datadir)
        try:
            first_read = None
            deadline = time.monotonic() + 60
            while first_read is None and time.monotonic() < deadline:
                if any(app.positions for app in host.read().apps):
                    first_read = time.monotonic()
                time.sleep(0.1)
            assert first_read is not None, "the late consumer never read"
            snap = wait_for(host, lambda s: s.pipeline("late-consumer").verdict.cause == Cause.LATE_JOIN, 30)
            named = time.monotonic() - first_read
            pipe = snap.pipeline("late-consumer")
            assert pipe.verdict.cause == Cause.LATE_JOIN, pipe.verdict
            assert named <= host.settle_seconds + 2.0, named
            assert pipe.on and pipe.verdict.proof == Proof.POSITION and pipe.verdict.stage == Stage.RECEIVED
            lost = pipe.damaged[Cause.LATE_JOIN]
            # the run's own truth: the values that landed, on each partition the consumer has read so
            # far, before its first read there (how many depends on when each partition was first read)
            truth = _landed_before_first_read(host.read(), "late-consumer")
            assert lost.count == pipe.verdict.lost >= 1 and _ids(lost) <= truth, (lost, sorted(truth))
            assert "consumer_auto_offset_reset='latest'" in pipe.verdict.text
            # the same verdict in every output: JSON, check's problem lines, Prometheus
            doc = snap.to_dict()["pipelines"][0]["verdict"]
            assert (doc["cause"], doc["proof"], doc["lost"]) == ("late_join", "position", lost.count)
            (line,) = problems(snap, DEFAULT_FAIL_ON)
            assert line.startswith("late-consumer: lost at received") and f", ids {lost.text()}" in line
            scraped = samples(_scrape(snap))
            assert (
                scraped[("genmon_values_lost", (("app", pipe.app_id), ("pipeline", "late-consumer")))]
                == lost.count
            )
            later = wait_for(
                host, lambda s: s.pipeline("late-consumer").counts.received > pipe.counts.received + 20, 20
            )
            moved = later.pipeline("late-consumer")
            # the flow goes on: values named stay named (more may join them as the consumer
            # first reads its other partitions), and none is a value written after it joined
            assert _ids(lost) <= _ids(moved.damaged[Cause.LATE_JOIN])
            assert max(_ids(moved.damaged[Cause.LATE_JOIN])) < 60
            named = _ids(moved.damaged[Cause.LATE_JOIN])
            waiting = _ids(moved.missing.get(Stage.RECEIVED) or MissingIds(0, ()))
            assert all(n in named or n > max(named) for n in waiting)  # named, or still on its way
            # once every partition was first read and the passing hold is over: exactly the truth
            settled = wait_for(
                host,
                lambda s: _ids(s.pipeline("late-consumer").damaged[Cause.LATE_JOIN])
                == _landed_before_first_read(host.read(), "late-consumer"),
                host.settle_seconds + 10,
            )
            final = _ids(settled.pipeline("late-consumer").damaged[Cause.LATE_JOIN])
            assert final == _landed_before_first_read(host.read(), "late-consumer")
        finally:
            host.stop()


def _scrape(snap: Snapshot) -> str:
    """What a Prometheus scrape of the watcher gets for ``snap`` (the endpoint's own collector)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(lambda: snap))
    return generate_latest(registry).decode()


def _landed_before_first_read(reading: Any, row: str) -> set[int]:
    """The ids the app's consumer can never receive: on each partition it has read, those the
    broker acknowledged at an offset before the first one it read there (the sender's ack log)."""
    (src,) = [s for s in reading.sources if s.name == row]
    truth: set[int] = set()
    for app in reading.apps:
        for (topic, partition), (first, _last) in app.positions.items():
            log = src.acked_at.get((topic, partition))
            if log is not None:
                truth.update(sorted(log.ids)[: log.below(first)])
    return truth


def _ids(shown: MissingIds) -> set[int]:
    return {n for first, last in shown.ranges for n in range(first, last + 1)}


def test_a_consumer_that_seeks_past_values_is_named_while_it_flows(broker: BrokerProcess) -> None:
    with user_app(broker, "tests.apps.seeking") as host:
        seeking = sys.modules["tests.apps.seeking"]  # the run's own import of the app
        snap = wait_for(host, lambda s: s.pipeline("seeking").verdict.cause == Cause.SKIPPED, 60)
        pipe = snap.pipeline("seeking")
        assert pipe.verdict.cause == Cause.SKIPPED, pipe.verdict
        (offset,) = seeking.jumped
        # one partition: value n at offset n - 1; the seek went to offset + 1 + JUMP, so values
        # offset + 2 … offset + 1 + JUMP were passed, less those already in the stream's buffer
        passed = set(range(offset + 2, offset + 2 + seeking.JUMP))
        skipped = pipe.damaged[Cause.SKIPPED]
        (run,) = skipped.ranges
        shown = set(range(run[0], run[1] + 1))
        assert shown <= passed and skipped.count == len(shown), (skipped, offset)
        assert len(shown) >= seeking.JUMP - 2 * seeking.BUFFER
        assert max(shown) == offset + 1 + seeking.JUMP  # the last one before the new position
        assert f"passed offset {min(shown) - 1} of seeking-numbers[0]" in pipe.verdict.text
        assert pipe.on and pipe.verdict.lost == skipped.count


def test_nothing_is_named_lost_in_a_minute_of_flow(broker: BrokerProcess) -> None:
    """A slow consumer, one slow partition, ``concurrency=4``, two agents on a topic, a filter,
    fan-out, and an agent Faust restarts: a minute of flow, and the only loss is the one value the
    restarted agent raised on."""
    from tests.apps import flowing

    rows = ("slow", "lopsided", "concurrent", "two-agents", "filtered", "fan-out", "restarted")
    with user_app(broker, "tests.apps.flowing", topics=tuple(flowing.TOPICS)) as host:
        start = wait_for(host, lambda s: all(_has(s, r) and s.pipeline(r).counts.received for r in rows), 60)
        assert all(_has(start, r) for r in rows), [p.name for p in start.pipelines]
        wrong: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            snap = host.snapshot()
            for name in rows:
                pipe = snap.pipeline(name)
                seen_crash = name == "restarted" and pipe.verdict.cause == Cause.CRASHED
                if any(cause in pipe.damaged for cause in POSITION_CAUSES) or (
                    pipe.verdict.state == VerdictState.LOST and not seen_crash
                ):
                    wrong.append(f"{name}: {pipe.verdict.text}")
            time.sleep(0.5)
        assert not wrong, sorted(set(wrong))
        end = host.snapshot()
        for name in rows:  # they flowed the whole minute (a check that can fail)
            assert end.pipeline(name).counts.received > start.pipeline(name).counts.received + 300, name
        restarted = end.pipeline("restarted")
        (header,) = sys.modules["tests.apps.flowing"].crashed  # what the agent itself raised on
        raised_on = int(header.split(b":")[1])
        assert restarted.damaged[Cause.CRASHED].ranges == ((raised_on, raised_on),), header
        assert end.pipeline("slow").verdict.in_flight > 100  # a backlog that only grows: in flight


def _has(snap: Snapshot, name: str) -> bool:
    return any(p.name == name for p in snap.pipelines)
