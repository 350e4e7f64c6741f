"""genmon beyond the terminal: the watcher's screen in a real browser (``genmon serve``, driven in a
headless Chromium over the DevTools protocol) and its numbers in Prometheus (``--prometheus``).

Both watch a fleet — a plain ``faust worker`` reporting to the session's broker — with a lossy
pipeline (``unwired``) and a lossless one (``numbers``).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import CHROMIUM, Chromium
from procs import alive, children_of
from prometheus_text import samples
from test_fleet import Fleet, create_topic

from genmon.broker import BrokerProcess
from genmon.broker.process import free_port
from genmon.fleet.watcher import Watcher
from genmon.model import STAGES, Snapshot
from genmon.watch.metrics import export
from genmon.watch.waiting import wait_for, wait_settled

GENMON = [sys.executable, "-m", "genmon"]
ROOT = Path(__file__).resolve().parents[2]
GONE_WITHIN = 6.0
"""Seconds a served screen may take to end once its server or parent went away (its hard exit is 5 s
after the fact)."""
HEADLESS_SHOT = ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,800")
"""A screenshot as ``chromium --screenshot`` takes it (with ``--virtual-time-budget``: the page's
scripts run a few seconds of their time first)."""
TAB_GONE_WITHIN = 3.0
"""Seconds a served screen may take to end once its tab's websocket closed, whatever closed it: a
tab that leaves while its screen still starts (Chromium 156's headless screenshot leaves 1.6 s after
it asked for the page) is told to quit once the screen reads its input, ~1.5-2.3 s later here."""

pytestmark = pytest.mark.brokers("embedded")  # a watcher-side claim: no broker behaviour in it


@pytest.fixture
def fleet_app(broker: BrokerProcess, app_id: str) -> Iterator[str]:
    """A fleet of one plain ``faust worker`` (tests/apps/served.py, genmon attached by its Faust
    fixup) on the session's broker, for the test's length; its data folder outside the test's."""
    with tempfile.TemporaryDirectory() as folder:
        fleet = Fleet(broker, app_id, Path(folder), module="tests.apps.served")
        create_topic(broker.url.removeprefix("kafka://"), f"{app_id}-numbers")
        fleet.start()
        try:
            yield app_id
        finally:
            fleet.stop()


def watcher_of(broker: BrokerProcess, app_id: str) -> Watcher:
    assert broker.address is not None
    return Watcher(
        broker.address,
        accept=lambda report: any(app.app_id == app_id for app in report.apps),
        settle_seconds=2.0,
    ).start()


def rows_flowing(snap: Snapshot) -> bool:
    names = {p.name: p for p in snap.pipelines}
    return {"unwired", "numbers"} <= set(names) and names["numbers"].counts.processed > 0


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the endpoint: (name, sorted labels) -> value."""
    with urllib.request.urlopen(url, timeout=5) as answer:
        return samples(answer.read().decode())


def test_prometheus_metrics_are_the_numbers_the_json_shows(broker: BrokerProcess, fleet_app: str) -> None:
    watcher = watcher_of(broker, fleet_app)
    exporter = export(watcher.snapshot, "127.0.0.1", 0)
    try:
        assert rows_flowing(wait_for(watcher, rows_flowing, 60)), "the fleet's rows"
        during = scrape(exporter.url)
        key = ("app", fleet_app), ("pipeline", "numbers"), ("stage", "yielded")
        assert during[("genmon_values_total", key)] > 0
        assert during[("genmon_generator_on", key[:2])] == 1.0
        assert during[("genmon_workers", (("state", "alive"),))] == 1.0
        watcher.set_all(False)  # as the screen's n does: every worker's generators off
        assert wait_settled(watcher, 60), "the fleet settled"
        time.sleep(1.0)  # the sampler's latest snapshot (what a scrape reads) is past the settling
        after = scrape(exporter.url)
        final = watcher.snapshot().to_dict()  # the JSON, at the same moment
    finally:
        exporter.stop()
        watcher.stop()
    pipes = {p["name"]: p for p in final["pipelines"]}
    assert pipes["unwired"]["verdict"]["state"] == "lost" and pipes["unwired"]["verdict"]["lost"] > 0
    assert pipes["numbers"]["verdict"]["lost"] == 0
    for name in ("unwired", "numbers"):
        row = (("app", fleet_app), ("pipeline", name))
        pipe = pipes[name]
        assert after[("genmon_values_lost", row)] == pipe["verdict"]["lost"], name
        assert after[("genmon_values_in_flight", row)] == pipe["verdict"]["in_flight"] == 0, name
        assert after[("genmon_generator_on", row)] == 0.0
        for stage in STAGES:
            labels = (*row, ("stage", str(stage)))
            assert after[("genmon_values_total", labels)] == pipe["counts"][stage], (name, stage)
    lost_at = (("app", fleet_app), ("pipeline", "unwired"), ("stage", "sent"))
    assert after[("genmon_values_lost_at", lost_at)] == pipes["unwired"]["verdict"]["lost"]
    state = (("app", fleet_app), ("pipeline", "unwired"), ("state", "lost"))
    assert after[("genmon_pipeline_state", state)] == 1.0
    median = (("app", fleet_app), ("pipeline", "numbers"), ("quantile", "0.5"))
    p50 = pipes["numbers"]["latency_ms"].get("p50")  # once a report carried the latency histogram
    expected = None if p50 is None else pytest.approx(p50 / 1000)
    assert after.get(("genmon_latency_seconds", median)) == expected


def served_screens(server: subprocess.Popen[bytes]) -> list[int]:
    return children_of(server.pid, b"genmon", b"watch")


def start_server(
    broker: BrokerProcess, app_id: str, port: int, cwd: Path, *more: str
) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [
            *GENMON,
            "serve",
            "--broker",
            broker.url,
            "--app-id",
            app_id,
            "--port",
            str(port),
            "--settle",
            "2",
            *more,
        ],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    assert server.stderr is not None
    line = server.stderr.readline().decode()
    shown = more[more.index("--public-url") + 1] if "--public-url" in more else f"http://127.0.0.1:{port}"
    if not (line.startswith("genmon: serving genmon watch ") and shown in line):
        os.killpg(server.pid, signal.SIGKILL)  # a failed start leaves nothing running
        server.wait()
        raise AssertionError(line)
    return server


async def gone(pids: list[int], within: float) -> float:
    """Seconds until every pid ended (fails past ``within``)."""
    started = time.monotonic()
    while any(alive(pid) for pid in pids):
        assert time.monotonic() - started < within, f"still running: {[p for p in pids if alive(p)]}"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


def row_of(text: str, name: str) -> list[str]:
    """The cells of a pipeline's row on the page: mark, name, five counts, verdict …"""
    for line in text.splitlines():
        cells = line.strip("│ ").split()
        if len(cells) > 7 and cells[1] == name:
            return cells
    raise AssertionError(f"no row {name!r} on the page:\n{text}")


def test_a_browser_tab_watches_switches_and_ends_with_its_tab_server_or_parent(
    broker: BrokerProcess, fleet_app: str, tmp_path: Path
) -> None:
    watcher = watcher_of(broker, fleet_app)  # the fleet's truth, to check the tab against
    port = free_port()
    server = start_server(broker, fleet_app, port, tmp_path)
    try:
        assert rows_flowing(wait_for(watcher, rows_flowing, 60)), "the fleet's rows"
        asyncio.run(_browse(f"http://127.0.0.1:{port}/", server, watcher, tmp_path))
        # the server stops (SIGTERM): every tab's screen ends, and so does it
        asyncio.run(_stop_with_a_tab_open(f"http://127.0.0.1:{port}/", server, signal.SIGTERM))
        assert server.wait(15) == 128 + signal.SIGTERM
        # the server is killed outright: its tabs' screens see their parent gone and end
        server = start_server(broker, fleet_app, port, tmp_path)
        asyncio.run(_stop_with_a_tab_open(f"http://127.0.0.1:{port}/", server, signal.SIGKILL))
    finally:
        watcher.stop()
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    assert list(tmp_path.iterdir()) == [], "nothing is left in the working directory"


async def _browse(url: str, server: subprocess.Popen[bytes], watcher: Watcher, tmp_path: Path) -> None:
    async with Chromium() as browser:
        page = await browser.open(url)
        await page.wait_for(r"numbers\s+\d+", timeout=30)
        await page.wait_for(r"unwired\s+\d+.*lost at sent: \d+")  # the tab judges as the watcher does
        sync = row_of(page.text(), "numbers")
        assert int(sync[2]) > 0, sync  # yielded, as counted by the fleet
        screens = served_screens(server)
        assert len(screens) == 1, screens
        # space switches the highlighted row (the one the detail panel is about), in every worker
        name = (await page.wait_for(r"─ (unwired|numbers): ")).group(1)
        await page.press(" ", "Space", " ", 32)
        assert not wait_for(watcher, lambda snap: not snap.pipeline(name).on, 20).pipeline(name).on
        await page.wait_for(rf"○\s+{re.escape(name)}\s")
        other = "numbers" if name == "unwired" else "unwired"
        assert watcher.snapshot().pipeline(other).on, "only the highlighted row was switched"
        shot = Path(os.environ.get("GENMON_BROWSER_SHOT", str(tmp_path.parent / "genmon-browser.png")))
        await page.screenshot(shot)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        await page.press(" ", "Space", " ", 32)  # and back on
        assert wait_for(watcher, lambda snap: snap.pipeline(name).on, 20).pipeline(name).on
        browser.kill()  # the tab goes away abruptly: no websocket close
        await gone(screens, TAB_GONE_WITHIN)
        assert server.poll() is None, "the server outlives its tabs"


async def _stop_with_a_tab_open(url: str, server: subprocess.Popen[bytes], sig: int) -> None:
    """Open a tab on the screen, then stop the server with ``sig`` while the tab stays open: the
    tab's screen must end all the same."""
    async with Chromium() as browser:
        page = await browser.open(url)
        await page.wait_for(r"numbers\s+\d+", timeout=30)
        screens = served_screens(server)
        assert len(screens) == 1, screens
        os.kill(server.pid, sig)
        await gone(screens, GONE_WITHIN)


def test_a_tab_closed_or_a_headless_screenshot_leaves_no_screen_behind(
    broker: BrokerProcess, tmp_path: Path
) -> None:
    """However a tab goes — closed by the user, or a headless browser that took its screenshot and
    exited while the screen was still starting (Textual dropped that quit and rendered on, at a
    core, for nobody) — its screen ends within ``TAB_GONE_WITHIN`` of the websocket closing."""
    port = free_port()
    server = start_server(broker, f"tabs-{uuid.uuid4().hex[:8]}", port, tmp_path)
    url = f"http://127.0.0.1:{port}/"
    try:
        asyncio.run(_close_a_tab(url, server))
        with tempfile.TemporaryDirectory(prefix="genmon-chromium-") as profile:
            shot = tmp_path.parent / "headless-shot.png"
            seen: set[int] = set()
            shooter = subprocess.Popen(
                [
                    str(CHROMIUM),
                    *HEADLESS_SHOT,
                    f"--user-data-dir={profile}",
                    "--virtual-time-budget=8000",
                    f"--screenshot={shot}",
                    url,
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            while shooter.poll() is None:
                seen.update(served_screens(server))
                time.sleep(0.05)
            left = time.monotonic()
            seen.update(served_screens(server))
        assert shooter.returncode == 0 and shot.exists()
        assert seen, "the headless tab started a screen"
        asyncio.run(gone(sorted(seen), TAB_GONE_WITHIN - (time.monotonic() - left)))
        assert server.poll() is None, "the server outlives its tabs"
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


async def _close_a_tab(url: str, server: subprocess.Popen[bytes]) -> None:
    async with Chromium() as browser:
        page = await browser.open(url)
        await page.wait_for(r"pipelines", timeout=30)
        screens = served_screens(server)
        assert len(screens) == 1, screens
        await page.close()
        await gone(screens, TAB_GONE_WITHIN)


class Cuttable:
    """A TCP proxy between the browser and the server whose network can be cut: after ``cut()`` it
    forwards nothing either way and keeps every connection open, as a pulled cable or a sleeping
    laptop does (nothing closes: only the websocket's heartbeat can tell)."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.held: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    def cut(self) -> None:
        self.flowing.clear()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        self.held += [writer, up_writer]
        await asyncio.gather(
            self._pump(reader, up_writer), self._pump(up_reader, writer), return_exceptions=True
        )

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            await self.flowing.wait()  # cut: the bytes go nowhere, the connection stays
            writer.write(data)
            await writer.drain()

    async def close(self) -> None:
        self.server.close()
        for writer in self.held:
            writer.close()


def test_a_tab_whose_network_is_cut_leaves_no_screen_behind(broker: BrokerProcess, tmp_path: Path) -> None:
    """The browser's network goes away without a close (nothing reaches the server any more): the
    websocket's heartbeat (genmon.serve.HEARTBEAT_SECONDS) finds it dead and closes it, and the
    tab's screen ends within ``TAB_GONE_WITHIN`` of that."""
    from genmon.serve import HEARTBEAT_SECONDS

    port = free_port()

    async def run() -> None:
        # the proxy listens first: the page must be told its address (its websocket goes there too)
        proxy = Cuttable(port)
        front = await proxy.start()
        server = await asyncio.to_thread(
            start_server,
            broker,
            f"cut-{uuid.uuid4().hex[:8]}",
            port,
            tmp_path,
            "--public-url",
            f"http://127.0.0.1:{front}",
        )
        try:
            async with Chromium() as browser:
                page = await browser.open(f"http://127.0.0.1:{front}/")
                await page.wait_for(r"pipelines", timeout=30)
                screens = served_screens(server)
                assert len(screens) == 1, screens
                proxy.cut()
                waited = await gone(screens, HEARTBEAT_SECONDS * 1.5 + TAB_GONE_WITHIN)
                assert waited >= HEARTBEAT_SECONDS / 2, "ended before the heartbeat could tell"
                assert server.poll() is None, "the server outlives its tabs"
        finally:
            await proxy.close()
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()

    asyncio.run(run())
