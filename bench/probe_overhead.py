"""End-to-end values/s through one Faust pipeline, with and without genmon's probe, side by side.

    python bench/probe_overhead.py [--values 5000] [--rounds 3] [--broker embedded|kafka]

One broker (the embedded one, or a local Apache Kafka 4: needs Java and Maven); each run is a fresh
process with a fresh app and topic (created before the app starts), and the three modes are
interleaved round by round, each round starting with another mode, so drift on the machine and the
broker's growth hit them alike:

* ``plain``    - the pipeline with no genmon at all;
* ``tracked``  - the generator wrapped in ``@genmon.track`` but no probe installed (a plain
                 ``faust worker``): what genmon costs an app that merely keeps the decorator;
* ``probe``    - genmon's probe installed: ids, headers, sensor hooks, as under ``genmon``, and a
                 thread reading the probe every 0.5 s as a worker's publisher does (reading counts
                 what the hooks queued: that work is timed too, up to the last value's);
* ``otel``     - what a user adds for tracing instead: OpenTelemetry's aiokafka instrumentation
                 (``AIOKafkaInstrumentor().instrument()`` before the app), the SDK's defaults, a
                 ``BatchSpanProcessor`` and an exporter that counts the spans and drops them (each run
                 checks it got more than 0 a value). Faust's consumer reads with
                 ``getmany``-free ``Fetcher`` calls the instrumentation does not wrap: the spans are
                 the producer's, one a value;
* ``prommon``  - Faust's own Prometheus sensor as Faust documents it
                 (``faust.sensors.prometheus.setup_prometheus_sensors(app)``) and a thread calling
                 ``generate_latest`` every 0.5 s, as a scrape would.

``--modes`` picks among them (default: all five; the peers need the ``bench`` extra).

With ``--in-place N`` it also makes N runs of a mode ``timed``: the probe as in ``probe``,
with every sensor hook and every count timed where it runs by the CPU clock of its thread (a wrapped
no-op, timed alike, is subtracted) — and N of ``timed-prom``, Faust's Prometheus sensor's hooks
timed alike. It prints genmon's own CPU per value inside the worker, hook by
hook — a number the end-to-end rate cannot resolve (runs of one mode spread ±15 %), steady enough to
tell a change of 1 µs a value apart. The wrappers around the hooks cost time of their own, so the
``timed`` runs stay out of the ratios.

``--work-us N`` makes the agent spend N µs of CPU on each value (a busy loop on Faust's loop): an app
whose agents do something, where genmon's cost per value is a smaller share.

The clock starts once the agent's consumer has its partition (a group join is not throughput).
Each run also counts the records per produce request (aiokafka's batches, counted alike in every
mode): Faust yields to the loop three times per ``topic.send`` (``maybe_start_producer`` is a mode
``stampede``) and aiokafka keeps one produce request in flight per broker, so a batch holds what
the app made during one round trip — per-value work anywhere in the process makes batches smaller
and every value dearer (see docs/PERFORMANCE.md).

Prints each run, the median per mode and the ratios to ``plain``, and the Faust process's CPU time
per value per mode (all its threads, not the broker's): steadier than the rate; and how much of it
Python's garbage collector took (what the probe keeps alive for a while makes it collect more: see
genmon/probe/ledger.py, "Flat queues").
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

MODES = ("plain", "tracked", "probe", "otel", "prommon")
PEERS = ("otel", "prommon")
"""What users would run instead of genmon (the ``bench`` extra: ``pip install -e '.[bench]'``)."""
PROM_HOOKS = (
    "on_message_in",
    "on_stream_event_in",
    "on_stream_event_out",
    "on_message_out",
    "on_send_initiated",
    "on_send_completed",
)
"""The hooks of Faust's ``PrometheusMonitor`` a value passes through (timed in place like genmon's)."""
SCRAPE_SECONDS = 0.5
TIMED_HOOKS = (
    "on_send_initiated",
    "on_send_completed",
    "on_message_in",
    "on_stream_event_in",
    "on_stream_event_out",
)


class InPlace:
    """CPU time (``time.thread_time_ns``, the calling thread's own) spent inside wrapped callables,
    minus what the wrapper alone costs (measured on a no-op wrapped the same way)."""

    def __init__(self) -> None:
        self.spent: dict[str, list[int]] = {}
        self.wrapper_ns = 0.0
        probe_ = type("Noop", (), {})()
        probe_.call = lambda *args: None
        self.wrap(probe_, "call", "noop")
        for _ in range(20_000):
            probe_.call(1, 2, 3)
        ns, calls = self.spent.pop("noop")
        self.wrapper_ns = ns / calls

    def wrap(self, owner: object, name: str, label: str | None = None) -> None:
        original = getattr(owner, name)
        spent = self.spent[label or name] = [0, 0]
        clock = time.thread_time_ns

        def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
            started = clock()
            try:
                return original(*args, **kwargs)
            finally:
                spent[0] += clock() - started
                spent[1] += 1

        setattr(owner, name, timed)

    def per_value(self, values: int) -> dict[str, float]:
        """µs per value of each wrapped callable, the wrapper's own cost taken out."""
        return {
            label: (ns - self.wrapper_ns * calls) / values / 1000 for label, (ns, calls) in self.spent.items()
        }


async def one_run(
    mode: str, kind: str, broker: str, values: int, work_us: float = 0.0
) -> tuple[float, float, float, float]:
    import faust
    from aiokafka.producer.message_accumulator import MessageAccumulator

    import genmon
    from genmon.broker import EmbeddedBroker, KafkaBroker, parse_broker_url
    from genmon.host.topics import create_missing_topics
    from genmon.probe import GenmonSensor, Probe
    from genmon.watch.logs import route_logging

    settings = {"embedded": EmbeddedBroker, "kafka": KafkaBroker}[kind].faust_settings
    probe = Probe()
    probing = mode in ("probe", "timed")
    if probing:
        probe.install()
    spans = traced() if mode == "otel" else None
    app_id = f"bench-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as datadir:
        route_logging(Path(datadir) / "bench.log")  # Faust's log lines, gone with the run
        app = faust.App(app_id, broker=broker, web_enabled=False, datadir=datadir, **settings)
        topic = app.topic(f"{app_id}-values", value_type=int, value_serializer="json")
        done = asyncio.Event()
        received = 0

        @app.agent(topic)
        async def sink(stream):  # type: ignore[no-untyped-def]
            nonlocal received
            async for _ in stream:
                received += 1
                if work_us:  # an agent that does something with the value (CPU on the loop)
                    until = time.perf_counter() + work_us / 1e6
                    while time.perf_counter() < until:
                        pass
                if received == values:
                    done.set()

        async def numbers():  # type: ignore[no-untyped-def]
            for i in range(values):
                yield i

        source = genmon.track(numbers, name="bench") if mode in ("tracked", "probe", "timed") else numbers
        in_place = None
        registry = None
        if mode in ("prommon", "timed-prom"):
            from faust.sensors.prometheus import setup_prometheus_sensors
            from prometheus_client import CollectorRegistry

            registry = CollectorRegistry()
            setup_prometheus_sensors(app, registry=registry)  # replaces the app's default Monitor
        if mode in ("timed-prom", "timed-monitor"):  # the sensor's hooks, or the default Monitor's
            in_place = InPlace()
            for hook in PROM_HOOKS:
                in_place.wrap(app.monitor, hook)
        if probing:
            sensor = GenmonSensor(probe)
            app.sensors.add(sensor)
            if mode == "timed":
                from genmon.probe.ledger import Ledger

                in_place = InPlace()
                for hook in TIMED_HOOKS:
                    in_place.wrap(sensor, hook)
                in_place.wrap(Ledger, "count")
        await create_missing_topics(app, parse_broker_url(broker))
        await app.start()
        deadline = time.monotonic() + 60
        while not app.consumer.assignment() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        batches = count_batches(MessageAccumulator)
        reading = threading.Event()
        if probing:  # what a worker's publisher does: read every source every 0.5 s
            threading.Thread(target=read_every, args=(probe, reading), daemon=True).start()
        if registry is not None:  # what Prometheus does: scrape every 0.5 s
            threading.Thread(target=scrape_every, args=(registry, reading), daemon=True).start()
        collecting = collector_time()
        started, cpu_started = time.perf_counter(), time.process_time()
        async for value in source():
            await topic.send(value=value)
        await asyncio.wait_for(done.wait(), 300)
        reading.set()
        if probing:
            pipe = probe.sources["bench"].read()
            assert pipe.yielded == len(pipe.sent) == len(pipe.acked) == len(pipe.received) == values, pipe
            assert [len(ids) for ids in pipe.processed.values()] == [values], pipe
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        gc.callbacks.remove(collecting.callback)
        await app.stop()
    if spans is not None:
        spans.provider.force_flush()
        assert spans.count > 0, "OpenTelemetry made no span"
        print(f"spans {spans.count / values:.2f} a value")
    if in_place is not None:
        print("in-place", " ".join(f"{k}={v:.3f}" for k, v in in_place.per_value(values).items()))
    per_batch = batches[1] / max(batches[0], 1)
    return values / elapsed, per_batch, cpu / values * 1e6, collecting.ns / values / 1000


class Collecting:
    """CPU time (of the collecting thread) Python's garbage collector spent, from now on."""

    def __init__(self) -> None:
        self.ns = 0
        self._started = 0

    def callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.thread_time_ns()
        else:
            self.ns += time.thread_time_ns() - self._started


def collector_time() -> Collecting:
    collecting = Collecting()
    gc.callbacks.append(collecting.callback)
    return collecting


def count_batches(accumulator: type) -> list[int]:
    """``[produce batches, records in them]`` from now on (aiokafka's accumulator hands each batch
    to its sender through ``_pop_batch``)."""
    counts = [0, 0]
    pop = accumulator._pop_batch

    def _pop_batch(self, tp):  # type: ignore[no-untyped-def]
        batch = pop(self, tp)
        counts[0] += 1
        counts[1] += batch.record_count
        return batch

    accumulator._pop_batch = _pop_batch
    return counts


def read_every(probe, stop: threading.Event, seconds: float = 0.5) -> None:  # type: ignore[no-untyped-def]
    """As a worker's publisher reads: every source every 0.5 s, latency histograms every 5 s."""
    reads = 0
    while not stop.wait(seconds):
        reads += 1
        probe.read_sources(latency=reads % 10 == 0)


class Spans:
    """OpenTelemetry as a user sets it up, with an exporter that counts and drops."""

    def __init__(self) -> None:
        self.count = 0
        self.provider: Any = None


def traced() -> Spans:
    from opentelemetry import trace
    from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    spans = Spans()

    class Counting(SpanExporter):  # type: ignore[misc]
        def export(self, batch):  # type: ignore[no-untyped-def]
            spans.count += len(batch)
            return SpanExportResult.SUCCESS

    spans.provider = TracerProvider()
    spans.provider.add_span_processor(BatchSpanProcessor(Counting()))
    trace.set_tracer_provider(spans.provider)
    AIOKafkaInstrumentor().instrument()
    return spans


def scrape_every(registry: Any, stop: threading.Event) -> None:
    from prometheus_client import generate_latest

    while not stop.wait(SCRAPE_SECONDS):
        generate_latest(registry)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=5000)
    parser.add_argument(
        "--work-us",
        type=float,
        default=0.0,
        metavar="µS",
        help="CPU the agent spends a value",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--broker", choices=("embedded", "kafka"), default="embedded")
    parser.add_argument(
        "--in-place", type=int, default=0, metavar="N", help="N runs timing the probe in place"
    )
    parser.add_argument("--modes", default=",".join(MODES), help=f"among {', '.join(MODES)}")
    parser.add_argument("--child", choices=(*MODES, "timed", "timed-prom", "timed-monitor"))
    parser.add_argument("--url")
    args = parser.parse_args()
    if args.child:
        print(*asyncio.run(one_run(args.child, args.broker, args.url, args.values, args.work_us)))
        return 0

    from genmon.broker import EmbeddedBroker, KafkaBroker

    modes = tuple(mode.strip() for mode in args.modes.split(",") if mode.strip())
    unknown = [mode for mode in modes if mode not in MODES]
    if unknown:
        parser.error(f"unknown mode {unknown[0]!r}: choose among {', '.join(MODES)}")
    if any(mode in PEERS for mode in modes):
        try:
            import opentelemetry.instrumentation.aiokafka
            import opentelemetry.sdk  # noqa: F401
        except ImportError:
            parser.error("the peers' modes need the bench extra: pip install -e '.[bench]'")
    rates: dict[str, list[float]] = {mode: [] for mode in modes}
    batching: dict[str, list[float]] = {mode: [] for mode in modes}
    cpus: dict[str, list[float]] = {mode: [] for mode in modes}
    collectors: dict[str, list[float]] = {mode: [] for mode in modes}
    in_place: list[dict[str, float]] = []
    in_place_prom: list[dict[str, Any]] = []
    kind = {"embedded": EmbeddedBroker, "kafka": KafkaBroker}[args.broker]
    with kind() as broker:
        print(f"broker: {broker.name} at {broker.url}", flush=True)
        if args.work_us:
            print(f"the agent spends {args.work_us:g} µs of CPU on each value", flush=True)

        def child(mode: str) -> list[str]:
            command = [sys.executable, __file__, "--child", mode, "--broker", args.broker]
            command += ["--url", broker.url, "--values", str(args.values), "--work-us", str(args.work_us)]
            return (
                subprocess.run(command, capture_output=True, text=True, check=True)
                .stdout.strip()
                .splitlines()
            )

        for round_ in range(1, args.rounds + 1):
            # The embedded broker slows down as it fills: each round starts with another mode, so no
            # mode always runs last (the order had put the probe last in every round).
            first = (round_ - 1) % len(modes)
            for mode in modes[first:] + modes[:first]:
                rate, per_batch, cpu, collector = map(float, child(mode)[-1].split())
                rates[mode].append(rate)
                batching[mode].append(per_batch)
                cpus[mode].append(cpu)
                collectors[mode].append(collector)
                print(
                    f"round {round_}  {mode:8} {rate:9,.0f} values/s"
                    f"  {per_batch:6.1f} records per produce request  {cpu:5.0f} µs CPU a value"
                    f" ({collector:4.1f} of it collecting garbage)",
                    flush=True,
                )
        for run in range(1, args.in_place + 1):
            lines = child("timed")
            spent = dict(item.split("=") for item in lines[-2].split()[1:])
            in_place.append({hook: float(us) for hook, us in spent.items()})
            print(
                f"in place {run}  " + "  ".join(f"{k} {float(v):.2f}" for k, v in spent.items()), flush=True
            )
            if "prommon" in modes:
                for timed in ("timed-prom", "timed-monitor"):
                    lines = child(timed)
                    spent = dict(item.split("=") for item in lines[-2].split()[1:])
                    in_place_prom.append({"mode": timed, **{hook: float(us) for hook, us in spent.items()}})
    if args.rounds:
        summarize(args.values, args.rounds, rates, batching, cpus, collectors)
    if in_place_prom:
        totals = {
            timed: statistics.median(
                sum(v for k, v in run.items() if k != "mode") for run in in_place_prom if run["mode"] == timed
            )
            for timed in ("timed-prom", "timed-monitor")
        }
        prom, default = totals["timed-prom"], totals["timed-monitor"]
        print(
            f"\nFaust's Prometheus sensor's hooks, timed in place alike: {prom:6.2f} µs a value"
            f" ({prom - default:.2f} beyond the default Monitor's {default:.2f}, which it replaces)"
        )
    if in_place:
        print(f"\ngenmon's own CPU per value in the worker, timed in place (median of {len(in_place)} runs):")
        for hook in in_place[0]:
            print(f"  {hook:20} {statistics.median(run[hook] for run in in_place):6.2f} µs")
        total = statistics.median(sum(run.values()) for run in in_place)
        print(f"  {'all of them':20} {total:6.2f} µs  (the wrappers around Faust's calls not included)")
    return 0


def summarize(
    values: int,
    rounds: int,
    rates: dict[str, list[float]],
    batching: dict[str, list[float]],
    cpus: dict[str, list[float]],
    collectors: dict[str, list[float]],
) -> None:
    medians = {mode: statistics.median(r) for mode, r in rates.items()}
    plain = "plain" in rates
    print(f"\n{values:,} values per run, {rounds} rounds, median values/s end to end:")
    for mode in rates:
        # the ratio of the medians, and the median of each round's own ratio (the drift of the
        # machine between rounds cancels in a round's ratio)
        ratios = ""
        if plain:
            paired = statistics.median(m / p for m, p in zip(rates[mode], rates["plain"], strict=True))
            ratios = (
                f"   ratio to plain {medians[mode] / medians['plain']:.3f}"
                f"   median of the rounds' ratios {paired:.3f}"
            )
        print(
            f"  {mode:8} {medians[mode]:9,.0f}{ratios}"
            f"   records per produce request {statistics.median(batching[mode]):.1f}"
        )
    # CPU per value of the Faust process (all its threads, the probe's reader included; not the
    # broker's): steadier than the rate, which also moves with how the app's sends batch.
    print("median CPU time per value in the Faust process:")
    added: dict[str, float] = {}
    for mode in rates:
        cpu = statistics.median(cpus[mode])
        versus = ""
        if plain:
            base = statistics.median(cpus["plain"])
            added[mode] = cpu - base
            versus = f"   {cpu / base:.3f} of plain, {cpu - base:+5.0f} µs added"
        print(
            f"  {mode:8} {cpu:6.0f} µs{versus}"
            f"   collecting garbage {statistics.median(collectors[mode]):4.1f} µs"
        )
    if "probe" in added:
        for peer, share in (("prommon", 5), ("otel", 10)):
            if peer in added and added[peer] > 0:
                ratio = added["probe"] / added[peer]
                budget = "within" if ratio <= 1 / share else "OVER"
                print(f"genmon's added CPU is {ratio:.2f} of {peer}'s ({budget} the budget of 1/{share})")


if __name__ == "__main__":
    sys.exit(main())
