"""The probe's ledger: hooks queue, a reader counts — exactly, and never a later stage ahead of an
earlier one, however the reads fall between the hooks (no broker: the hooks are called as Faust
calls them, with messages shaped like Faust's)."""

from __future__ import annotations

import threading
from collections import deque
from types import SimpleNamespace
from typing import Any

import pytest
from pyroaring import BitMap

from genmon.model import Cause
from genmon.probe import GenmonSensor, Probe, sensor, track
from genmon.probe.landing import by_partition


def _numbers(n: int):  # type: ignore[no-untyped-def]
    yield from range(n)


@pytest.fixture
def probe() -> Any:
    probe = Probe()
    probe.install()
    yield probe
    probe.uninstall()


def _one_value(hooks: GenmonSensor, tp: Any, stream: Any) -> None:
    """One value through the four hooks, in the order Faust fires them: it lands at the partition's
    next offset (as the broker's acknowledgement says), and comes back off it."""
    offset = tp.next_offset
    tp.next_offset += 1
    message = SimpleNamespace(headers={})
    state = hooks.on_send_initiated(None, tp.topic, message, 0, 0)
    hooks.on_send_completed(
        None, state, SimpleNamespace(topic=tp.topic, partition=tp.partition, offset=offset)
    )
    incoming = SimpleNamespace(headers=list(message.headers.items()))
    hooks.on_message_in(tp, offset, incoming)
    hooks.on_stream_event_out(tp, offset, stream, SimpleNamespace(headers=incoming.headers), None)


def _faust_like() -> tuple[Any, Any]:
    tp = SimpleNamespace(topic="ledger-values", partition=0, next_offset=0)
    stream = SimpleNamespace(app=SimpleNamespace(conf=SimpleNamespace(reply_to="replies")), channel=None)
    return tp, stream


def test_reads_between_hooks_never_show_a_later_stage_ahead_and_the_end_is_exact(probe: Probe) -> None:
    hooks = GenmonSensor(probe)
    tp, stream = _faust_like()
    values = 20_000
    stop = threading.Event()
    seen: list[tuple[int, int, int, int, int]] = []
    bad: list[Any] = []

    def reader() -> None:
        while not stop.is_set():
            src = probe.sources.get("ledger")
            if src is None:
                continue
            pipe = src.read()
            (processed,) = pipe.processed.values() or (frozenset(),)
            if not (set(processed) <= set(pipe.received) <= set(pipe.acked) <= set(pipe.sent)):
                bad.append(pipe)
            seen.append((pipe.yielded, len(pipe.sent), len(pipe.acked), len(pipe.received), len(processed)))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in track(_numbers, name="ledger")(values):
            _one_value(hooks, tp, stream)
    finally:
        stop.set()
        thread.join()
    assert not bad, bad[0]
    assert len(seen) >= 3  # the reader did read while values moved (a check that can fail)
    assert any(0 < counts[4] < values for counts in seen)
    assert all(a >= b >= c >= d >= e for a, b, c, d, e in seen)
    pipe = probe.sources["ledger"].read()
    (processed,) = pipe.processed.values()
    assert pipe.yielded == len(pipe.sent) == len(pipe.acked) == len(pipe.received) == len(processed) == values
    assert len(probe.ledger) == 0


class Interleaving(deque):  # type: ignore[type-arg]
    """A queue that, armed, lets one whole value through every hook when the count takes its length:
    the Faust loop running between two of the count's steps, every time, not by luck."""

    def __init__(self) -> None:
        super().__init__()
        self.between: Any = None

    def __len__(self) -> int:
        n = super().__len__()
        between, self.between = self.between, None
        if between is not None:
            between()
        return n


@pytest.mark.parametrize("queue", ["sent", "acked", "received", "processed"])
def test_a_value_moving_while_the_count_reads_a_length_is_never_ahead(probe: Probe, queue: str) -> None:
    for name in ("sent", "acked", "received", "processed"):
        setattr(probe.ledger, name, Interleaving())
    hooks = GenmonSensor(probe)
    tp, stream = _faust_like()
    values = iter(track(_numbers, name="race")(10))
    next(values)
    _one_value(hooks, tp, stream)

    def another() -> None:
        next(values)
        _one_value(hooks, tp, stream)

    for value in range(2, 6):
        getattr(probe.ledger, queue).between = another
        pipe = probe.sources["race"].read()
        (processed,) = pipe.processed.values()
        assert set(processed) <= set(pipe.received) <= set(pipe.acked) <= set(pipe.sent), (queue, pipe)
        assert len(pipe.sent) >= value - 1
    pipe = probe.sources["race"].read()
    (processed,) = pipe.processed.values()
    assert pipe.yielded == len(pipe.sent) == len(pipe.received) == len(processed) == 5


def test_a_probe_nobody_reads_counts_its_own_backlog(probe: Probe, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sensor, "BACKLOG", 100)
    hooks = GenmonSensor(probe)
    tp, stream = _faust_like()
    longest = 0
    for _ in track(_numbers, name="unread")(1_000):
        _one_value(hooks, tp, stream)
        ledger = probe.ledger
        longest = max(longest, len(ledger.sent), len(ledger.received), len(ledger.processed))
    assert longest <= 101  # never more than the backlog waits
    pipe = probe.sources["unread"].read()
    assert pipe.yielded == len(pipe.received) == 1_000


def test_a_crash_recorded_between_received_and_processed_keeps_the_value_out_of_processed(
    probe: Probe,
) -> None:
    """Faust fires ``on_stream_event_out`` from a ``finally`` after the agent raised: the crash is
    recorded first (counting what was queued before it), the processed hook's entry after — the
    value is crashed, not processed."""
    hooks = GenmonSensor(probe)
    tp, stream = _faust_like()
    for value in track(_numbers, name="crash")(3):
        message = SimpleNamespace(headers={})
        state = hooks.on_send_initiated(None, tp.topic, message, 0, 0)
        hooks.on_send_completed(None, state, SimpleNamespace(partition=0, offset=value))
        incoming = SimpleNamespace(headers=list(message.headers.items()))
        hooks.on_message_in(tp, value, incoming)
        if value == 1:
            probe.record(Cause.CRASHED, incoming.headers, "agent sink raised KeyError('x')")
        hooks.on_stream_event_out(tp, value, stream, SimpleNamespace(headers=incoming.headers), None)
    pipe = probe.sources["crash"].read()
    (processed,) = pipe.processed.values()
    assert sorted(processed) == [1, 3]
    assert sorted(pipe.damaged[Cause.CRASHED]) == [2]


def test_a_batch_counts_what_one_entry_at_a_time_would(probe: Probe) -> None:
    """The count takes a backlog in runs of one source and topic (and agent) and adds each run's
    ids in one call when they are all new; a run with a duplicate or a value the agent raised on
    takes the path of one id at a time, ids from before a reset are left out, and reorders are
    checked per partition either way. All of it gives what counting each entry alone gives."""
    a, b = probe.declare("a"), probe.declare("b")
    a.seq = b.seq = 20
    ledger = probe.ledger
    for src, seq, topic in [(a, 1, "t"), (a, 2, "t"), (b, 1, "t"), (a, 3, "u"), (a, 3, "u"), (a, 4, "t")]:
        ledger.sent.extend((src, seq, topic))
    a.floor = 1  # a's value 1 was yielded before a reset
    probe.drain()
    assert {topic: sorted(ids.ids) for topic, ids in a.sent_by.items()} == {"t": [2, 4], "u": [3]}
    assert a.sent_by["u"].duplicates == 1 and sorted(b.sent_by["t"].ids) == [1]
    assert list(a.topics) == ["t", "u"]

    def header(src: Any, seq: int) -> bytes:
        return src.header_value_prefix + b"%d:%d" % (seq, probe.started_us + seq)

    for offset, (seq, partition) in enumerate(
        [(5, 0), (6, 0), (7, 0), (3, 0), (8, 1), (8, 0), (8, 0), (2, 0)]
    ):
        ledger.received.extend(("t", partition, offset, header(a, seq), None))
    probe.drain()
    received = a.received_by["t"]
    assert sorted(received.ids) == [2, 3, 5, 6, 7, 8]
    assert received.duplicates == 2  # 8 came on partition 1 first: twice more on the topic
    assert a.reorders == 2  # 3 and 2 after 7 on partition 0; a duplicate is never a reorder
    assert a.last_by_partition == {("t", 0): 7, ("t", 1): 8}
    for offset, (seq, partition) in enumerate(
        [(9, 0), (10, 1), (12, 0), (11, 0)], 10
    ):  # all new, interleaved
        ledger.received.extend(("t", partition, offset, header(a, seq), None))
    probe.drain()
    assert sorted(received.ids)[-4:] == [9, 10, 11, 12] and received.duplicates == 2
    assert a.reorders == 3  # 11 after 12 on partition 0
    assert a.last_by_partition == {("t", 0): 12, ("t", 1): 10}

    a.damaged[Cause.CRASHED].add(4)
    a.crashed_by["sink"] = BitMap([4])  # what probe.record notes for agent sink's crash on 4
    a.crashed_by["other"] = BitMap([5])  # another agent's crash on 5 keeps nothing from sink
    agent = SimpleNamespace(name="app.sink")
    stream = SimpleNamespace(app=None, channel=None)
    for seq in [3, 4, 5, 5, 6]:
        ledger.processed.extend(("t", stream, header(a, seq), agent, (probe.started_us + seq + 1000) * 1000))
    probe.drain()
    processed = a.processed[("t", "sink")]
    assert sorted(processed.ids) == [3, 5, 6]  # 4: the agent raised on it
    assert processed.duplicates == 1
    assert sum(a.latency.values()) == 3  # a value's latency once, the first time it is processed
    for seq in [7, 8]:  # new values, in order: one call for the run
        ledger.processed.extend(("t", stream, header(a, seq), agent, (probe.started_us + seq + 1000) * 1000))
    probe.drain()
    assert sorted(processed.ids) == [3, 5, 6, 7, 8] and sum(a.latency.values()) == 5
    assert set(a.latency) == {1000}


def test_headers_in_a_dict_subclass_are_read_as_a_mapping(probe: Probe) -> None:
    """A channel's event carries whatever headers its sender passed: a dict subclass is looked up
    by key, never iterated as pairs."""
    from collections import OrderedDict

    src = probe.declare("mapped")
    src.seq = 3
    value = src.header_value_prefix + b"3:%d" % (probe.started_us + 1)
    headers = OrderedDict([("ab", b"x"), (sensor.HEADER, value)])
    assert probe.from_headers(headers) == (src, 3, probe.started_us + 1)


def test_a_full_header_cache_keeps_its_newest_half(probe: Probe) -> None:
    """Headers decoded at receipt are looked up again when processed: a full cache drops its
    oldest half, not the values still in flight, and what it decodes stays the same."""
    from genmon.probe.runtime import PARSED_LIMIT

    src = probe.declare("many")
    src.seq = PARSED_LIMIT + 10
    headers = [
        {sensor.HEADER: src.header_value_prefix + b"%d:%d" % (seq, probe.started_us + seq)}
        for seq in range(1, PARSED_LIMIT + 11)
    ]
    assert [probe.from_headers(h) for h in headers] == [
        (src, seq, probe.started_us + seq) for seq in range(1, PARSED_LIMIT + 11)
    ]
    newest = [h[sensor.HEADER] for h in headers[-PARSED_LIMIT // 2 :]]
    assert all(raw in probe._parsed for raw in newest)
    assert headers[0][sensor.HEADER] not in probe._parsed
    assert probe.from_headers(headers[0]) == (src, 1, probe.started_us + 1)  # decoded again


def test_where_values_landed_is_kept_per_partition_and_given_up_when_out_of_order(probe: Probe) -> None:
    """The count pairs each partition's ids with its offsets (acknowledgements, interleaved over
    partitions as Faust's producer gets them); a value acknowledged out of id order on a partition
    gives that partition's offsets up — never a pairing built on a guess."""
    src = probe.declare("landing")
    src.seq = 20
    ledger = probe.ledger
    acks = [(1, 0, 10), (2, 1, 0), (3, 0, 11), (4, 1, 1), (5, 0, 15), (6, 1, 2)]  # id, partition, offset
    for seq, partition, offset in acks:
        ledger.acked.extend((src, seq, "t", partition, offset))
    probe.drain()
    assert src.read().acked_at == {}  # nothing was acknowledged a report ago yet
    logs = src.read().acked_at  # a report later: still not received here
    assert sorted(logs[("t", 0)].ids) == [1, 3, 5] and list(logs[("t", 0)].offsets) == [10, 11, 15]
    assert logs[("t", 0)].offset_of(2) == 15 and logs[("t", 0)].below(15) == 2
    assert sorted(logs[("t", 1)].ids) == [2, 4, 6] and logs[("t", 1)].ordered
    for seq, offset in ((8, 3), (7, 4)):  # 7 lands after 8: the pairing no longer holds on partition 1
        ledger.acked.extend((src, seq, "t", 1, offset))
    probe.drain()
    logs = src.read().acked_at
    assert not logs[("t", 1)].ordered and not logs[("t", 1)].ids
    assert logs[("t", 0)].ordered and len(logs[("t", 0)].ids) == 3


def test_values_received_here_leave_the_landing_log(probe: Probe) -> None:
    """What this process's consumer received needs no proof: its (id, offset) pairs leave the log,
    the rest stay paired, and a report carries only those acknowledged a report ago or earlier."""
    hooks = GenmonSensor(probe)
    tp, _ = _faust_like()
    for value in track(_numbers, name="pruned")(6):
        message = SimpleNamespace(headers={})
        state = hooks.on_send_initiated(None, tp.topic, message, 0, 0)
        hooks.on_send_completed(None, state, SimpleNamespace(partition=0, offset=10 + value))
        if value != 2:  # the third value (id 3, offset 12) is never read here
            incoming = SimpleNamespace(headers=list(message.headers.items()))
            hooks.on_message_in(tp, 10 + value, incoming)
    src = probe.sources["pruned"]
    src.read()
    log = src.read().acked_at[(tp.topic, 0)]  # a report later
    assert log.ordered and list(log.ids) == [3] and list(log.offsets) == [12]


@pytest.mark.parametrize("partitions", [[3, 3, 3, 3], [0, 1, 0, 2], [1, 1, 0, 0], [5]])
def test_a_batch_splits_per_partition_in_order_whatever_its_shape(partitions: list[int]) -> None:
    """One partition takes the short way (the lists as they are), a mixed batch the long one: both
    give each partition its ids and offsets in the order they came."""
    seqs = [10 + i for i in range(len(partitions))]
    offsets = [100 + i for i in range(len(partitions))]
    split = by_partition(seqs, partitions, offsets)
    assert sorted(split) == sorted(set(partitions))
    for partition, (ids, at) in split.items():
        mine = [i for i, p in enumerate(partitions) if p == partition]
        assert ids == [seqs[i] for i in mine] and at == [offsets[i] for i in mine]


def _hop_send(hooks: GenmonSensor, topic: str, origin: bytes) -> Any:
    """A send from a hop (an agent holding an event whose value came from ``origin``)."""
    probe = hooks.probe
    found = sensor.identify(probe, topic, None)
    assert found is not None
    return sensor.mark_sent(probe, found, topic, SimpleNamespace(headers={}), origin)


def test_a_hop_keeps_what_its_values_were_made_from_as_runs_until_they_are_done(
    probe: Probe, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hop's ids map to its origins' ids as runs (consecutive ids from consecutive ids of one
    origin), kept while not processed here and let go once they are; at the limit the oldest go."""
    monkeypatch.setattr(sensor, "sender_name", lambda skip=4: ("route()", "app.route"))
    hooks = GenmonSensor(probe)
    origin = probe.declare("orders")
    made = [5, 6, 7, 9, 10]  # order 8 was filtered out before this hop
    for n in made:
        _hop_send(hooks, "routed", origin.header_value_prefix + b"%d:1" % n)
    hop = probe.sources["route()"]
    runs = hop.read().made_from
    assert [(r.first, r.last, r.origin, r.origin_first) for r in runs] == [
        (1, 3, "orders@" + probe.token, 5),
        (4, 5, "orders@" + probe.token, 9),
    ]
    assert runs[1].origins([1, 4, 5]) == [9, 10]
    hop.processed_by("routed", "bill").add_all([2])  # the middle of a run done: the run splits
    assert [(r.first, r.last, r.origin_first) for r in hop.read().made_from] == [
        (1, 1, 5),
        (3, 3, 7),
        (4, 5, 9),
    ]
    hop.processed_by("routed", "bill").add_all([1, 3, 4])  # processed here: done
    assert [(r.first, r.last) for r in hop.read().made_from] == [(5, 5)]
    assert list(hop.made_from) == [5]
    monkeypatch.setattr("genmon.probe.hop_origins.MADE_FROM_LIMIT", 4)
    for n in range(20, 24):
        _hop_send(hooks, "routed", origin.header_value_prefix + b"%d:1" % n)
    assert list(hop.made_from) == [7, 8, 9]  # over the limit: the oldest half went
