"""Render the README's screenshots from a real run: embedded broker, demo app, the real screen.

    python scripts/screenshots.py            # writes screenshots/*.svg
    python scripts/screenshots.py multihop   # only those named: demo catalogue shop many multihop replay

Nothing here is drawn by hand: the counts are whatever the demo reached when the picture was taken.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

from genmon.broker import FAST_JOIN, EmbeddedBroker
from genmon.demo import descriptions, plan, select
from genmon.host.host import Host
from genmon.tui import GenmonApp
from genmon.watch.logs import default_log_path, route_logging

OUT = Path(__file__).resolve().parent.parent / "screenshots"


def highlight(app: GenmonApp, name: str) -> None:
    """Put the cursor on the row of ``name`` (rows are sorted: positions are not stable)."""
    from genmon.tui.table import PipelineTable

    table = app.query_one(PipelineTable)
    table.move_cursor(row=table._order.index(name), animate=False)


async def shoot(host: Host, ring) -> None:  # type: ignore[no-untyped-def]
    app = GenmonApp(host, descriptions=descriptions(select("all")), log_ring=ring)
    async with app.run_test(size=(120, 35)) as pilot:
        # Let the unwired pipeline settle into "lost at sent" while the pumps keep flowing.
        for _ in range(200):
            snap = app.snapshot
            if snap and snap.pipeline("unwired").verdict.state == "lost" and snap.uptime > 12:
                break
            await pilot.pause(0.1)
        highlight(app, "async-pump")
        await pilot.press("space")  # async-pump off, to show a paused row
        await pilot.pause(0.5)
        highlight(app, "unwired")
        await pilot.pause(1.0)
        app.save_screenshot(filename="genmon.svg", path=str(OUT))
        highlight(app, "sync-pump")
        await pilot.press("l")
        await pilot.pause(1.0)
        app.save_screenshot(filename="genmon-log.svg", path=str(OUT))
        await pilot.press("l", "question_mark")
        await pilot.pause(0.5)
        app.save_screenshot(filename="genmon-help.svg", path=str(OUT))


async def shoot_catalogue(host: Host, ring) -> None:  # type: ignore[no-untyped-def]
    app = GenmonApp(host, descriptions=descriptions(select("all")), log_ring=ring)
    async with app.run_test(size=(140, 45)) as pilot:
        for _ in range(300):
            snap = app.snapshot
            if snap and snap.uptime > 14 and snap.pipeline("late-consumer").counts.received:
                break
            await pilot.pause(0.1)
        highlight(app, "bad-payload")
        await pilot.pause(1.0)
        app.save_screenshot(filename="genmon-catalogue.svg", path=str(OUT))
        highlight(app, "crashing-agent")
        await pilot.press("enter")
        await pilot.pause(2.5)  # a broker-offsets poll lands
        app.save_screenshot(filename="genmon-detail.svg", path=str(OUT))
        await pilot.press("escape", "m")  # the catalogue's flow as a map
        await pilot.pause(1.5)
        app.save_screenshot(filename="genmon-map-catalogue.svg", path=str(OUT))


def run(scenarios: str, shooter) -> None:  # type: ignore[no-untyped-def]
    ring = route_logging(default_log_path())
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory() as datadir:
        assert broker.address is not None
        plans = plan(
            select(scenarios),
            app_id="genmon-demo",
            broker=broker.url,
            rate=10.0,
            datadir=datadir,
            broker_settings=FAST_JOIN,
        )
        host = Host(
            factories=[(p.factory, p.delay) for p in plans],
            broker=broker.address,
            embedded=True,
            broker_alive=broker.is_up,
            log_path=str(default_log_path()),
            create_topics=True,
        ).start()
        try:
            asyncio.run(shooter(host, ring))
        finally:
            host.stop()


async def shoot_user_app(host: Host, ring) -> None:  # type: ignore[no-untyped-def]
    app = GenmonApp(host, log_ring=ring)
    async with app.run_test(size=(120, 30)) as pilot:
        for _ in range(200):
            snap = app.snapshot
            if snap and snap.uptime > 8:
                break
            await pilot.pause(0.1)
        app.save_screenshot(filename="genmon-shop.svg", path=str(OUT))


def run_user_app(folder: Path, spec: str, shooter=None) -> None:  # type: ignore[no-untyped-def]
    """``genmon -A spec --embedded`` from ``folder``, as a user runs it."""
    from genmon.host.loader import load_app, prepare_app
    from genmon.probe import Probe

    ring = route_logging(default_log_path())
    probe = Probe()
    probe.install()
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory() as datadir:
        assert broker.address is not None
        app = prepare_app(
            load_app(spec, cwd=str(folder)).app, broker=broker.url, broker_settings=FAST_JOIN, datadir=datadir
        )
        host = Host(
            lambda: app,
            broker=broker.address,
            embedded=True,
            broker_alive=broker.is_up,
            log_path=str(default_log_path()),
            probe=probe,
            listening_rows=True,
            create_topics=True,  # what genmon -A --embedded does
        ).start()
        try:
            asyncio.run((shooter or shoot_user_app)(host, ring))
        finally:
            host.stop()


async def shoot_many(host: Host, ring) -> None:  # type: ignore[no-untyped-def]
    app = GenmonApp(host, log_ring=ring)
    async with app.run_test(size=(120, 35)) as pilot:
        for _ in range(400):
            snap = app.snapshot
            if snap and snap.uptime > 20 and sum(p.verdict.state == "lost" for p in snap.pipelines) >= 4:
                break
            await pilot.pause(0.1)
        await pilot.pause(1.0)
        app.save_screenshot(filename="genmon-200.svg", path=str(OUT))


async def shoot_multihop(host: Host, ring) -> None:  # type: ignore[no-untyped-def]
    """tests/apps/multihop.py: a loss at the last of three hops, named with the generator's ids."""
    app = GenmonApp(host, log_ring=ring)
    async with app.run_test(size=(120, 30)) as pilot:
        for _ in range(600):
            snap = app.snapshot
            if snap and any(
                p.name == "orders" and p.downstream and p.downstream[0].ids.count == 4 for p in snap.pipelines
            ):
                break
            await pilot.pause(0.1)
        await pilot.pause(1.0)
        highlight(app, "orders")
        await pilot.pause(0.5)
        app.save_screenshot(filename="genmon-multihop.svg", path=str(OUT))
        await pilot.press("m")  # the same app as a map: the hop where values die, in red
        await pilot.pause(1.5)
        app.save_screenshot(filename="genmon-map.svg", path=str(OUT))


def shoot_replay() -> None:
    """tests/apps/hopmisnamed.py checked with --record, then replayed: the moment its loss is judged."""
    import subprocess

    from genmon.watch.replay import Replay

    root = OUT.parent
    with tempfile.TemporaryDirectory(prefix="genmon-shot-") as folder:
        recording = Path(folder) / "run.genmon"
        check = [sys.executable, "-m", "genmon", "check", "-A", "tests.apps.hopmisnamed", "--embedded"]
        subprocess.run(
            [*check, "--duration", "4", "--record", str(recording)],
            cwd=root,
            capture_output=True,
            check=False,
        )
        run = Replay(str(recording))
        run.seek(0)
        moment = run.next_problem(0)
        if moment is not None:
            run.seek(moment)

        async def shoot() -> None:
            app = GenmonApp(run, log_ring=run)
            async with app.run_test(size=(120, 30)) as pilot:
                await pilot.pause(0.5)
                app.save_screenshot(filename="genmon-replay.svg", path=str(OUT))

        asyncio.run(shoot())


def main() -> int:
    OUT.mkdir(exist_ok=True)
    wanted = set(sys.argv[1:]) or {"demo", "catalogue", "shop", "many", "multihop", "replay"}
    if "demo" in wanted:
        run("unwired,sync-pump,async-pump", shoot)
    if "catalogue" in wanted:
        run("all", shoot_catalogue)
    if "shop" in wanted:
        run_user_app(OUT.parent / "examples" / "shop", "shop.app")
    if "many" in wanted:
        os.environ.update(BENCH_PIPELINES="200", BENCH_RATE="5", BENCH_BROKEN="50")
        run_user_app(OUT.parent, "bench.many_app", shoot_many)
    if "multihop" in wanted:
        run_user_app(OUT.parent, "tests.apps.multihop", shoot_multihop)
    if "replay" in wanted:
        shoot_replay()
    for svg in sorted(OUT.glob("*.svg")):
        print(svg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
