"""What the probe costs per value, and what id tracking costs in memory.

    python bench/probe_cost.py

1. Per value, the probe's work in Faust's hot path, timed side by side in one run: the generator
   wrapper plus the four sensor hooks (send initiated, send completed, message in, stream event
   out) with id tracking and latency, against the same generator unwrapped and no hooks.
2. Memory of id tracking: 10,000,000 ids with one gap every 1,000 in a stage's id set.
"""

from __future__ import annotations

import gc
import os
import resource
import time
from types import SimpleNamespace

from genmon.model.ids import id_ranges
from genmon.probe import GenmonSensor, Probe, track
from genmon.probe.source import StageIds

VALUES = 200_000
READ_EVERY = 1_000
"""Values between two counts of the probe's queue: a worker's reader counts every 0.5 s."""


def plain(n: int):  # type: ignore[no-untyped-def]
    yield from range(n)


def per_value_cost() -> tuple[float, float]:
    probe = Probe()
    probe.install()
    sensor = GenmonSensor(probe)
    tracked = track(plain, name="bench")
    tp = SimpleNamespace(topic="bench", partition=0)
    stream = SimpleNamespace(app=SimpleNamespace(conf=SimpleNamespace(reply_to="replies")), channel=None)

    # The same loop, the same message objects, no wrapper and no hooks: what is left is the probe.
    start = time.perf_counter()
    for _ in plain(VALUES):
        message = SimpleNamespace(headers={})
        incoming = SimpleNamespace(headers=tuple(message.headers.items()))
        _ = SimpleNamespace(headers=message.headers)
    bare = time.perf_counter() - start

    start = time.perf_counter()
    for value in tracked(VALUES):
        message = SimpleNamespace(headers={})
        state = sensor.on_send_initiated(None, "bench", message, 0, 0)
        sensor.on_send_completed(None, state, None)
        incoming = SimpleNamespace(headers=tuple(message.headers.items()))
        sensor.on_message_in(tp, 0, incoming)
        sensor.on_stream_event_out(tp, 0, stream, SimpleNamespace(headers=message.headers), None)
        if value % READ_EVERY == 0:
            probe.drain()  # the hooks queue what they saw; a reader counts it (a worker's every 0.5 s)
    probe.drain()
    probed = time.perf_counter() - start
    src = probe.sources["bench"].read()
    (done,) = src.processed.values()
    assert src.yielded == len(src.sent) == len(src.acked) == len(src.received) == len(done) == VALUES
    probe.uninstall()
    return bare / VALUES * 1e6, probed / VALUES * 1e6


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def id_memory() -> tuple[float, float, int]:
    gc.collect()
    before = rss_mb()
    ids = StageIds()
    total = 10_000_000
    for n in range(1, total + 1):
        if n % 1000:
            ids.add(n)
    after = rss_mb()
    runs, _ = id_ranges(ids.ids, limit=10_000)
    return after - before, len(ids.ids.serialize()) / 1e6, len(runs)


def main() -> None:
    bare, probed = per_value_cost()
    print(f"per value, {VALUES:,} values:")
    print(f"  generator and message objects alone   {bare:6.3f} µs")
    print(f"  tracked + 4 sensor hooks + ids + hdr  {probed:6.3f} µs")
    print(f"  probe cost per value                  {probed - bare:6.3f} µs")
    grown, serialized, runs = id_memory()
    print("id tracking, 10,000,000 ids with one gap per 1,000:")
    print(f"  resident memory grown                 {grown:6.2f} MB   (target < 20 MB)")
    print(f"  compressed bitmap, serialized         {serialized:6.2f} MB")
    print(f"  first {runs:,} runs of ids listed (gaps found by binary search)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    print(f"  max RSS of this run                   {peak:6.1f} MB")


if __name__ == "__main__":
    main()
