"""A fleet of plain ``faust worker`` processes with and without genmon attached, side by side.

    python bench/fleet.py [--workers 3] [--seconds 20] [--rounds 2] [--broker embedded|kafka]
                          [--screen-pipelines 200] [--skip-screen]

One broker for the whole run. Prints, in one table:

* **throughput**: values/s the fleet's agents processed (the app's own counts, ``bench/fleet_app.py``),
  with genmon attached (``GENMON_BROKER=app``: the Faust fixup) vs without, rounds interleaved;
* **reports**: bytes/s per worker on ``genmon-reports`` and reports/s per worker, at full speed and
  at 1,000 values/s over the fleet (and what that adds to the embedded broker per hour: it keeps
  every record);
* **merge**: time to merge the fleet's reports and build a snapshot (per screen update);
* **freshness**: report taken in a worker → merged in the watcher, p50 / p95;
* **screen**: CPU of the screen's process (a watcher only) with ``--screen-pipelines`` tracked
  generators at 10 values/s each, as a share of one core (needs tmux).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WARMUP_SECONDS = 12.0
STEADY_SECONDS = 4.0
"""After the warm-up, measuring starts once every worker has been processing for this long: a
rebalance still under way (workers with genmon attached take longer to join) is startup, not the
cost of the probe, and it had made single rounds swing by a quarter."""


def all_processing(out: Path, workers: int, window: float = 1.0) -> bool:
    """Every worker's agent count grew within the last ``window`` seconds."""
    now = time.time()
    series = worker_counts(out)
    return len(series) >= workers and all(count_at(s, now) > count_at(s, now - window) for s in series)


def wait_steady(out: Path, workers: int, timeout: float = 40.0) -> None:
    """Until every worker has kept processing for ``STEADY_SECONDS`` (or ``timeout``)."""
    deadline, since = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        if all_processing(out, workers):
            since = since or time.monotonic()
            if time.monotonic() - since >= STEADY_SECONDS:
                return
        else:
            since = None
        time.sleep(0.25)


def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    async def create() -> None:
        from aiokafka.admin import AIOKafkaAdminClient, NewTopic

        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(name, partitions, 1)])
        finally:
            await admin.close()

    asyncio.run(create())


def worker_counts(out: Path) -> list[list[tuple[float, int]]]:
    """Each worker's ``(time, agent count)`` lines from ``BENCH_OUT.<pid>`` (a line being written is
    skipped)."""
    series = []
    for path in out.parent.glob(out.name + ".*"):
        fields = (line.split() for line in path.read_text().splitlines())
        series.append([(float(f[0]), int(f[1])) for f in fields if len(f) == 2])
    return series


def count_at(series: list[tuple[float, int]], when: float) -> int:
    """One worker's count at ``when``: its last line at or before it."""
    last = 0
    for stamp, count in series:
        if stamp <= when:
            last = count
    return last


def processed_at(out: Path, when: float) -> int:
    """The fleet's processed count at ``when``."""
    return sum(count_at(series, when) for series in worker_counts(out))


def run_fleet(
    broker: object, workers: int, seconds: float, rate: float, genmon: bool, watch: bool = False
) -> dict[str, float]:
    """One fleet run: values/s processed; ``watch``: also what a watcher (in this process) measured.
    Throughput is compared unwatched: a watcher here would take CPU from the same two cores."""
    from genmon.fleet.watcher import Watcher
    from genmon.model import Clocks, build

    address = broker.address  # type: ignore[attr-defined]
    app_id = f"bench-{uuid.uuid4().hex[:8]}"
    create_topic(address.bootstrap, f"{app_id}-numbers", 6)
    folder = Path(tempfile.mkdtemp(prefix="genmon-bench-"))
    out = folder / "count"
    env = {
        **{k: v for k, v in os.environ.items() if k != "GENMON_BROKER"},
        "BENCH_APP_ID": app_id,
        "BENCH_BROKER": address.url,
        "BENCH_RATE": str(rate),
        "BENCH_OUT": str(out),
        "BENCH_DATADIR": str(folder),
        "PYTHONPATH": str(ROOT),
    }
    if genmon:
        env["GENMON_BROKER"] = "app"
    watcher = (
        Watcher(address, accept=lambda r: any(a.app_id == app_id for a in r.apps)).start() if watch else None
    )
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "faust",
                "-A",
                "bench.fleet_app",
                "worker",
                "--without-web",
                "-l",
                "warn",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(workers)
    ]
    result: dict[str, float] = {}
    try:
        time.sleep(WARMUP_SECONDS)
        wait_steady(out, workers)
        t0 = time.time()
        bytes0 = watcher.received_bytes if watcher else 0
        msgs0 = watcher.received_messages if watcher else 0
        if watcher:
            watcher.freshness.clear()
        time.sleep(seconds)
        t1 = time.time()
        result["values_per_second"] = (processed_at(out, t1) - processed_at(out, t0)) / (t1 - t0)
        if watcher:
            result["bytes_per_worker_s"] = (watcher.received_bytes - bytes0) / (t1 - t0) / workers
            result["reports_per_worker_s"] = (watcher.received_messages - msgs0) / (t1 - t0) / workers
            fresh = sorted(watcher.freshness)
            result["fresh_p50_ms"] = 1000 * fresh[len(fresh) // 2] if fresh else float("nan")
            result["fresh_p95_ms"] = 1000 * fresh[int(len(fresh) * 0.95)] if fresh else float("nan")
            clocks = Clocks(5.0)
            times = []
            for _ in range(50):
                start = time.perf_counter()
                _, clocks = build(watcher.read(), clocks)
                times.append(time.perf_counter() - start)
            result["merge_ms"] = 1000 * statistics.median(times)
            result["switch_ms"] = 1000 * switch_confirmed(watcher, workers)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        if watcher:
            watcher.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return result


def switch_confirmed(watcher: object, workers: int, timeout: float = 10.0) -> float:
    """Seconds from switching the generator off to every worker's report saying it is off (the
    control record's trip to each worker plus that worker's next report)."""
    asked = time.monotonic()
    watcher.set_generator("numbers", False)  # type: ignore[attr-defined]
    while time.monotonic() - asked < timeout:
        offs = [
            not src.on
            for h in list(watcher.fleet.heard.values())  # type: ignore[attr-defined]
            for src in h.report.sources
            if src.name == "numbers" and not src.foreign
        ]
        if len(offs) == workers and all(offs):
            return time.monotonic() - asked
        time.sleep(0.005)
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pid_of(argv: list[str]) -> int:
    """The process whose command line starts with ``argv`` (not the shell that started it)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                args = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if [a.decode(errors="replace") for a in args[: len(argv)]] == argv:
                return int(entry.name)
    raise RuntimeError(f"no process {' '.join(argv)}")


def screen_cpu(pipelines: int, seconds: float) -> tuple[float, float]:
    """Share of one core used by the screen's process, and by its worker, over ``seconds``."""
    if shutil.which("tmux") is None:
        return float("nan"), float("nan")
    session = f"bench{os.getpid()}"
    command = (
        f"cd {ROOT} && BENCH_PIPELINES={pipelines} {sys.executable} -m genmon -A bench.many_app --embedded"
    )
    subprocess.run(["tmux", "new", "-d", "-s", session, "-x", "160", "-y", "45", command], check=True)
    try:
        time.sleep(20)  # the worker starts 200 generators, the screen fills
        screen = _pid_of([sys.executable, "-m", "genmon", "-A", "bench.many_app"])
        worker = _pid_of([sys.executable, "-m", "genmon.fleet.worker"])
        s0, w0, t0 = cpu_seconds(screen), cpu_seconds(worker), time.monotonic()
        time.sleep(seconds)
        s1, w1, t1 = cpu_seconds(screen), cpu_seconds(worker), time.monotonic()
        return (s1 - s0) / (t1 - t0), (w1 - w0) / (t1 - t0)
    finally:
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=False)
        time.sleep(6)
        subprocess.run(["tmux", "kill-session", "-t", session], check=False, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--broker", choices=("embedded", "kafka"), default="embedded")
    parser.add_argument("--screen-pipelines", type=int, default=200)
    parser.add_argument("--skip-screen", action="store_true")
    args = parser.parse_args()

    from genmon.broker import EmbeddedBroker, KafkaBroker
    from genmon.watch.logs import route_logging

    route_logging(Path(tempfile.gettempdir()) / f"genmon-bench-{os.getpid()}.log")
    kind = {"embedded": EmbeddedBroker, "kafka": KafkaBroker}[args.broker]
    plain: list[float] = []
    attached: list[dict[str, float]] = []
    with kind() as broker:
        for round_ in range(1, args.rounds + 1):
            # every run leaves its records in the embedded broker, which slows as it fills: each
            # round starts with the other mode, so neither always runs second
            for genmon in (False, True) if round_ % 2 else (True, False):
                got = run_fleet(broker, args.workers, args.seconds, 0.0, genmon)
                (attached.append(got) if genmon else plain.append(got["values_per_second"]))
                label = "genmon" if genmon else "plain "
                print(f"round {round_} {label}: {got['values_per_second']:8.0f} values/s", flush=True)
        fast = run_fleet(broker, args.workers, args.seconds, 0.0, True, watch=True)
        paced = run_fleet(broker, args.workers, args.seconds, 1000.0 / args.workers, True, watch=True)
    with_genmon = statistics.median(r["values_per_second"] for r in attached)
    without = statistics.median(plain)
    # the median of each round's own ratio: drift of the machine between rounds cancels in a round
    paired = statistics.median(r["values_per_second"] / p for r, p in zip(attached, plain, strict=True))
    print()
    print(
        f"{args.workers} faust workers on the {args.broker} broker, "
        f"{args.seconds:g} s per run, {args.rounds} rounds"
    )
    print(f"  throughput without genmon        {without:10.0f} values/s")
    print(
        f"  throughput with genmon attached  {with_genmon:10.0f} values/s   ratio {with_genmon / without:.3f}"
        f" (median of the rounds' ratios {paired:.3f})"
    )
    print(
        f"  reports at full speed            {fast['bytes_per_worker_s']:10.0f} B/s per worker "
        f"({fast['reports_per_worker_s']:.1f} reports/s)"
    )
    print(
        f"  reports at 1,000 values/s fleet  {paced['bytes_per_worker_s']:10.0f} B/s per worker "
        f"({paced['reports_per_worker_s']:.1f} reports/s) = "
        f"{paced['bytes_per_worker_s'] * args.workers * 3600 / 1e6:.1f} MB/hour on the broker"
    )
    print(f"  merge + snapshot per update      {fast['merge_ms']:10.2f} ms")
    print(f"  a switch confirmed by every worker {fast['switch_ms']:8.0f} ms (its trip + their next report)")
    print(
        f"  freshness (taken -> merged)      "
        f"p50 {fast['fresh_p50_ms']:.0f} ms, p95 {fast['fresh_p95_ms']:.0f} ms"
    )
    if not args.skip_screen:
        screen, worker = screen_cpu(args.screen_pipelines, 20.0)
        print(
            f"  screen process, {args.screen_pipelines} pipelines at 10/s  {100 * screen:5.1f} % of one core "
            f"(its worker: {100 * worker:.1f} %)"
        )


if __name__ == "__main__":
    main()
