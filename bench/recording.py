"""What ``--record`` costs: the file's size per minute and the monitor's CPU, with and without it.

    python bench/recording.py [--pipelines 20,200] [--rate 100] [--seconds 60]

Runs ``genmon -A bench.many_app --embedded --headless`` (``--pipelines`` tracked generators at
``--rate`` values/s each) for ``--seconds``, once recording and once not, per size, and prints side
by side: the recording's size per minute, and the CPU time of genmon's own process (the monitor:
the watcher merging the worker's reports, the sampler, the recorder; not the worker running the app,
nor the broker) per second of the run — with, without, and the ratio.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(pipelines: int, rate: float, seconds: float, record: bool) -> tuple[float, int]:
    """(CPU seconds of genmon's process per second of wall time, bytes recorded)."""
    env = {**os.environ, "BENCH_PIPELINES": str(pipelines), "BENCH_RATE": str(rate), "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory(prefix="genmon-bench-rec-") as folder:
        path = Path(folder) / "run.genmon"
        command = [sys.executable, "-m", "genmon", "-A", "bench.many_app", "--embedded", "--headless"]
        command += ["--duration", str(seconds), "--json"]
        if record:
            command += ["--record", str(path)]
        started = time.monotonic()
        before = os.times()
        subprocess.run(command, cwd=folder, env=env, capture_output=True, check=False, timeout=seconds + 300)
        after = os.times()
        wall = time.monotonic() - started
        # children_user/system: genmon's process and its descendants (the worker, the broker) are
        # waited for; the worker and broker run in their own processes below genmon, so this is the
        # whole tree — the difference between the two runs is what recording adds.
        cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
        size = path.stat().st_size if path.exists() else 0
    return cpu / wall, size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipelines", default="20,200")
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    rows = []
    for pipelines in (int(n) for n in args.pipelines.split(",")):
        plain_cpu, _ = run(pipelines, args.rate, args.seconds, record=False)
        cpu, size = run(pipelines, args.rate, args.seconds, record=True)
        rows.append((pipelines, size / (args.seconds / 60), plain_cpu, cpu))
        print(f"{pipelines} pipelines done", file=sys.stderr, flush=True)
    print(
        f"{args.rate:g} values/s per pipeline, {args.seconds:g} s runs;"
        " CPU of the whole run (genmon, worker, broker)"
    )
    print(f"{'pipelines':>10} {'recording MB/min':>17} {'CPU without':>12} {'with':>8} {'ratio':>7}")
    for pipelines, per_minute, plain_cpu, cpu in rows:
        print(
            f"{pipelines:>10,} {per_minute / 1e6:>17.2f} {plain_cpu * 100:>11.1f}% {cpu * 100:>7.1f}%"
            f" {cpu / plain_cpu if plain_cpu else 0:>7.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
