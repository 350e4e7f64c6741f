"""The real screen at 20, 200 and 1,000 pipelines, side by side in one run.

    python bench/screen.py [--rows 20,200,1000] [--seconds 10] [--presses 40]

Drives genmon's screen headless (Textual's ``run_test``) from a fake monitor (``tests/fakes.py``,
``BusyMonitor``) whose pipelines all change on every refresh (5 a second), and prints per size:

* **CPU**: the process's CPU time per second of wall time while the screen refreshes (100 % = one
  core), measured over ``--seconds`` after a warm-up;
* **key latency**: from a key event reaching the app (``down``, posted as the terminal driver posts
  it) to the highlighted row having moved, p50 / p95 over ``--presses`` presses spaced over the same
  refreshes;
* the same with the map open (``m``): its CPU while counts move, and from ``down``/``up`` to the
  selected node having moved (a redraw of the folded map);

No broker and no Faust: only the screen's own cost (and the fake's, which copies rows with new
counts — a small share of what a watcher's merge costs).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

WARMUP_SECONDS = 2.0


async def measure(rows: int, seconds: float, presses: int, on_map: bool = False) -> dict[str, float]:
    from fakes import BusyMonitor
    from textual import events

    from genmon.tui import GenmonApp
    from genmon.tui.map_screen import MapScreen
    from genmon.tui.table import PipelineTable

    app = GenmonApp(BusyMonitor(rows))
    async with app.run_test(size=(120, 35)) as pilot:
        if on_map:  # the map open over the table (m): its redraws instead of the table's
            await pilot.press("m")
        await asyncio.sleep(WARMUP_SECONDS)
        wall, cpu = time.perf_counter(), time.process_time()
        await asyncio.sleep(seconds)
        cpu_share = (time.process_time() - cpu) / (time.perf_counter() - wall)
        table = app.query_one(PipelineTable)
        screen = app.screen

        def where() -> object:
            return screen.selected if isinstance(screen, MapScreen) else table.cursor_row

        latencies = []
        for n in range(presses):
            before = where()
            period = 2 if on_map else 20  # the map's column is short: down, up, down …
            key = "down" if n % period < period // 2 else "up"
            started = time.perf_counter()
            app.post_message(events.Key(key, None))  # as the terminal driver does (no test waits)
            while where() == before and time.perf_counter() - started < 2.0:
                await asyncio.sleep(0.0005)
            latencies.append((time.perf_counter() - started) * 1000.0)
            await asyncio.sleep(0.1)  # let refreshes run between presses
        await pilot.press("q")
    latencies.sort()
    return {
        "cpu": cpu_share * 100.0,
        "p50": statistics.median(latencies),
        "p95": latencies[max(int(len(latencies) * 0.95) - 1, 0)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="20,200,1000")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--presses", type=int, default=40)
    args = parser.parse_args()
    sizes = [int(n) for n in args.rows.split(",")]
    results = {n: asyncio.run(measure(n, args.seconds, args.presses)) for n in sizes}
    maps = {n: asyncio.run(measure(n, args.seconds, args.presses, on_map=True)) for n in sizes}
    print(
        f"{'pipelines':>10} {'table: CPU (% of a core)':>26} {'key p50':>9} {'p95':>9}"
        f" {'map open: CPU':>15} {'key p50':>9} {'p95':>9}"
    )
    for n, r in results.items():
        m = maps[n]
        print(
            f"{n:>10,} {r['cpu']:>25.1f}% {r['p50']:>6.1f} ms {r['p95']:>6.1f} ms"
            f" {m['cpu']:>14.1f}% {m['p50']:>6.1f} ms {m['p95']:>6.1f} ms"
        )


if __name__ == "__main__":
    main()
