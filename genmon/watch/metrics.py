"""The Prometheus endpoint (``--prometheus HOST:PORT``): the watcher's merged snapshot as metrics.

Exported by the watcher only, never by each worker: a worker cannot know which ids another worker
received, so per-worker exports would count a redelivered value twice and could not say which
values were lost. A scrape reads the watcher's latest snapshot (at most one sampling period old)
through a custom collector: the metrics are a view of the same numbers the screen and ``--json``
show, never a second set of counters that could drift from them.

Names follow Prometheus' conventions: counters end in ``_total`` (distinct values reach a stage once;
a reset on the screen is a counter reset), times are in seconds, states are gauges of 0/1.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)

from genmon.listen import ListenError, http_url
from genmon.model import STAGES, Snapshot, VerdictState, WorkerState

log = logging.getLogger("genmon")

QUANTILES = {"p50": "0.5", "p95": "0.95", "p99": "0.99", "max": "1"}
"""genmon's latency summary keys (ms) as Prometheus summary quantiles (``max`` is quantile 1)."""


class SnapshotCollector:
    """Builds every genmon metric from one snapshot per scrape."""

    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self._snapshot = snapshot

    def describe(self) -> list[Metric]:
        return []  # nothing to read at registration: the first scrape builds them

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot()
        return iter(metrics_of(snap))


def metrics_of(snap: Snapshot) -> list[Metric]:
    """Every metric of one snapshot (pure: tested without a server)."""
    from genmon.version import __version__

    row = ["app", "pipeline"]
    values = CounterMetricFamily(
        "genmon_values", "Distinct values that reached the stage, per pipeline.", labels=[*row, "stage"]
    )
    lost = GaugeMetricFamily(
        "genmon_values_lost", "Values genmon judged lost (settled, never reached the next stage).", labels=row
    )
    lost_at = GaugeMetricFamily(
        "genmon_values_lost_at",
        "Values lost, at the first stage they missed (only for pipelines that lose values).",
        labels=[*row, "stage"],
    )
    in_flight = GaugeMetricFamily(
        "genmon_values_in_flight", "Values between yielded and processed, still moving.", labels=row
    )
    stuck = GaugeMetricFamily(
        "genmon_values_stuck",
        "Values waiting on a topic nothing reads (assigned to no consumer, or its agent stopped reading).",
        labels=row,
    )
    verdict = GaugeMetricFamily(
        "genmon_pipeline_state", "1 for the pipeline's verdict now, 0 for the others.", labels=[*row, "state"]
    )
    duplicates = CounterMetricFamily(
        "genmon_duplicates", "Values seen again at a stage (redeliveries, resends).", labels=[*row, "stage"]
    )
    reorders = CounterMetricFamily("genmon_reorders", "Values processed out of their order.", labels=row)
    latency = GaugeMetricFamily(
        "genmon_latency_seconds",
        "Time from yielded to processed: quantiles over the run (quantile 1: the longest).",
        labels=[*row, "quantile"],
    )
    latency_count = CounterMetricFamily(
        "genmon_latency_observations", "Values whose yield-to-processed time was measured.", labels=row
    )
    generator_on = GaugeMetricFamily(
        "genmon_generator_on", "1 while the pipeline's generator is switched on.", labels=row
    )
    generator_stalls = CounterMetricFamily(
        "genmon_generator_stalls", "Times the generator blocked the event loop.", labels=row
    )
    for pipe in snap.pipelines:
        key = [pipe.app_id, pipe.name]
        for stage in STAGES:
            values.add_metric([*key, str(stage)], pipe.counts[stage])
            duplicates.add_metric([*key, str(stage)], pipe.duplicates.get(stage, 0))  # 0s too: rate() works
        also = (
            pipe.verdict.also if pipe.verdict.also and pipe.verdict.also.state == VerdictState.LOST else None
        )
        lost.add_metric(key, pipe.verdict.lost + (also.lost if also else 0))
        at: dict[str, int] = {}
        for part in (pipe.verdict, also):
            for stage_lost, count in part.by_stage() if part is not None and part.lost else ():
                at[str(stage_lost)] = at.get(str(stage_lost), 0) + count
        for stage_name, count in at.items():
            lost_at.add_metric([*key, stage_name], count)
        in_flight.add_metric(key, pipe.verdict.in_flight)
        stuck.add_metric(  # a row's own, or the rest of it beside a seen loss (behind a decode failure)
            key,
            sum(
                part.in_flight
                for part in (pipe.verdict, pipe.verdict.also)
                if part is not None and part.state == VerdictState.STUCK
            ),
        )
        for state in VerdictState:
            verdict.add_metric([*key, str(state)], 1.0 if pipe.verdict.state == state else 0.0)
        reorders.add_metric(key, pipe.reorders)
        for name, quantile in QUANTILES.items():
            if name in pipe.latency_ms:
                latency.add_metric([*key, quantile], pipe.latency_ms[name] / 1000.0)
        if "count" in pipe.latency_ms:
            latency_count.add_metric(key, pipe.latency_ms["count"])
        generator_on.add_metric(key, 1.0 if pipe.on else 0.0)
        generator_stalls.add_metric(key, pipe.stalls)

    worker = ["worker", "name"]
    workers_alive = GaugeMetricFamily("genmon_workers", "Workers heard of, by state.", labels=["state"])
    worker_up = GaugeMetricFamily("genmon_worker_up", "1 while the worker reports.", labels=worker)
    worker_age = GaugeMetricFamily(
        "genmon_worker_report_age_seconds", "Seconds since the worker's last report arrived.", labels=worker
    )
    loop_stalls = CounterMetricFamily(
        "genmon_loop_stalls", "Times the worker's event loop ran late by over 250 ms.", labels=worker
    )
    longest_stall = GaugeMetricFamily(
        "genmon_loop_stall_longest_seconds", "The worker's longest event loop stall.", labels=worker
    )
    tally = Counter(w.state for w in snap.workers)
    for worker_state in WorkerState:
        workers_alive.add_metric([str(worker_state)], tally[worker_state])
    for w in snap.workers:
        labels = [w.label, w.name]
        worker_up.add_metric(labels, 1.0 if w.alive else 0.0)
        worker_age.add_metric(labels, w.age)
        loop_stalls.add_metric(labels, w.stalls.count)
        longest_stall.add_metric(labels, w.stalls.longest)

    broker_up = GaugeMetricFamily("genmon_broker_up", "1 while the broker answers genmon.", labels=["broker"])
    broker_up.add_metric([snap.broker.url], 1.0 if snap.broker.up else 0.0)
    info = InfoMetricFamily("genmon", "The genmon that exports these metrics.", labels=[])
    info.add_metric([], {"version": __version__})
    return [
        info,
        values,
        lost,
        lost_at,
        in_flight,
        stuck,
        verdict,
        duplicates,
        reorders,
        latency,
        latency_count,
        generator_on,
        generator_stalls,
        workers_alive,
        worker_up,
        worker_age,
        loop_stalls,
        longest_stall,
        broker_up,
    ]


@dataclass
class Exporter:
    """The endpoint, serving from a thread of its own until :meth:`stop`."""

    server: Any
    thread: Any
    url: str

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def export(snapshot: Callable[[], Snapshot], host: str, port: int) -> Exporter:
    """Serve ``/metrics`` on ``host:port`` from the snapshots ``snapshot`` returns."""
    from prometheus_client import start_http_server

    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise ListenError(f"--prometheus: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    bound = server.server_address[1]
    url = http_url(host, bound, "/metrics")
    log.info("Prometheus metrics at %s", url)
    return Exporter(server, thread, url)
