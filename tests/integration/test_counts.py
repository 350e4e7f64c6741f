"""The instrument must not lie: exact counts on the real broker, and the unwired bug found."""

from __future__ import annotations

import itertools
import time

from genmon.host.host import Host
from genmon.watch.waiting import wait_for, wait_settled

PUMPS = ("sync-pump", "async-pump")


def _flowing(host: Host) -> None:
    wait_for(host, lambda s: all(s.pipeline(p).counts.processed >= 20 for p in PUMPS), timeout=30)


def test_lossless_pumps_count_exactly_and_unwired_is_lost_at_sent(demo_host: Host) -> None:
    _flowing(demo_host)
    time.sleep(1.0)
    demo_host.set_all(False)
    assert wait_settled(demo_host, limit=30.0)
    snap = demo_host.snapshot(fresh=True)

    assert {p.name for p in snap.pipelines} == {"unwired", *PUMPS}
    for name in PUMPS:
        pipe = snap.pipeline(name)
        c = pipe.counts
        assert c.yielded > 20
        assert c.yielded == c.sent == c.acked == c.received == c.processed, (name, c)
        assert pipe.send_failed == 0
        assert set(pipe.duplicates.values()) == {0}
        assert pipe.verdict.state == "paused" and pipe.verdict.lost == 0
        assert pipe.missing == {}
        assert pipe.topics == (f"{snap.app_id}-{name.split('-')[0]}_topic",)
        assert pipe.agents == (f"{name.split('-')[0]}_agent",)

    unwired = snap.pipeline("unwired")
    assert unwired.counts.yielded > 20
    assert unwired.counts.sent == unwired.counts.acked == unwired.counts.processed == 0
    assert unwired.verdict.state == "lost"
    assert unwired.verdict.stage == "sent"
    assert unwired.verdict.lost == unwired.counts.yielded
    assert unwired.topics == ()
    assert unwired.missing["sent"].ranges == ((1, unwired.counts.yielded),)


def test_unwired_is_reported_lost_while_running_after_settle(demo_host: Host) -> None:
    snap = wait_for(demo_host, lambda s: s.pipeline("unwired").verdict.state == "lost", timeout=15)
    assert snap.pipeline("unwired").verdict.text.startswith("lost at sent: ")
    for name in PUMPS:
        assert snap.pipeline(name).verdict.state in ("ok", "in_flight"), snap.pipeline(name).verdict


def _yielded(host: Host, name: str) -> int:
    return host.snapshot().pipeline(name).counts.yielded


def test_toggle_stops_and_resumes_each_kind_of_generator(demo_host: Host) -> None:
    _flowing(demo_host)
    for name in ("unwired", *PUMPS):
        demo_host.set_generator(name, False)
        time.sleep(0.8)  # anything already on its way is through (a send on Kafka can take 0.5 s here)
        stopped = _yielded(demo_host, name)
        time.sleep(1.2)
        assert _yielded(demo_host, name) == stopped, name
        assert demo_host.snapshot().pipeline(name).on is False
        demo_host.set_generator(name, True)
        time.sleep(1.0)
        assert _yielded(demo_host, name) > stopped, name


def test_all_off_all_on_and_reset_zeroes_without_a_later_stage_ahead(demo_host: Host) -> None:
    _flowing(demo_host)
    demo_host.set_all(False)
    assert all(not p.on for p in demo_host.snapshot().pipelines)
    time.sleep(0.3)  # a sync generator yields the value its consumer had already asked for
    demo_host.reset()
    time.sleep(0.3)
    snap = demo_host.snapshot()
    assert all(p.counts.as_tuple() == (0, 0, 0, 0, 0) for p in snap.pipelines)
    demo_host.set_all(True)
    _flowing(demo_host)
    for _ in range(10):  # while running, no stage is ever ahead of the one before it
        for pipe in demo_host.snapshot().pipelines:
            values = pipe.counts.as_tuple()
            assert all(a >= b for a, b in itertools.pairwise(values)), (pipe.name, values)
        time.sleep(0.1)


def test_unknown_generator_is_refused(demo_host: Host) -> None:
    import pytest

    with pytest.raises(KeyError):
        demo_host.set_generator("no-such-generator", False)


def test_first_value_is_received_within_6_seconds_of_start(broker, app_id: str) -> None:  # type: ignore[no-untyped-def]
    import tempfile

    from conftest import start_demo_host

    started = time.monotonic()
    with tempfile.TemporaryDirectory() as datadir:
        host = start_demo_host(broker, app_id, datadir)
        try:
            snap = wait_for(host, lambda s: s.pipeline("async-pump").counts.received > 0, timeout=10)
            elapsed = time.monotonic() - started
            assert snap.pipeline("async-pump").counts.received > 0
            assert elapsed < 6.0, f"first value received after {elapsed:.1f}s"
        finally:
            host.stop()


def test_broker_truth_matches_the_counts_once_settled(demo_host: Host) -> None:
    """High watermarks and the group's committed offsets, from the broker itself."""
    _flowing(demo_host)
    demo_host.set_all(False)
    assert wait_settled(demo_host, limit=30.0)

    def agreed(snap) -> bool:  # type: ignore[no-untyped-def]
        pipe = snap.pipeline("sync-pump")
        return (
            bool(pipe.offsets) and pipe.offsets[0].on_topic == pipe.counts.acked and pipe.offsets[0].lag == 0
        )

    snap = wait_for(demo_host, agreed, timeout=20)
    pipe = snap.pipeline("sync-pump")
    (offsets,) = pipe.offsets
    assert offsets.on_topic == pipe.counts.acked > 0
    assert offsets.group == snap.app_id and offsets.committed == offsets.on_topic and offsets.lag == 0
    assert offsets.partitions >= 1
    assert snap.pipeline("unwired").offsets == ()  # it never sent to any topic
