"""The screen, driven with Textual's Pilot against a real demo app on the real broker."""

from __future__ import annotations

import asyncio
import io
import re

import pytest
from rich.console import Console
from textual.widgets import Static

from genmon.host.host import Host
from genmon.tui import GenmonApp
from genmon.tui.detail_screen import DetailScreen
from genmon.tui.help import HelpScreen
from genmon.tui.map_screen import MapScreen
from genmon.tui.table import PipelineTable


def _text(renderable: object) -> str:
    """What a Rich renderable shows, as plain text."""
    console = Console(width=160, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


async def _until(pilot, predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await pilot.pause(0.1)


@pytest.mark.brokers("embedded")  # the screen's keys; switches on Kafka: tests/integration/test_counts.py
async def test_rows_toggle_reset_help_log_and_quit(demo_host: Host) -> None:
    app = GenmonApp(demo_host, descriptions={"unwired": "the bug"})
    async with app.run_test(size=(140, 40)) as pilot:
        table = app.query_one(PipelineTable)
        # The rows come with the demo's first values: on a 2-core machine whose other test worker
        # is stopping apps of its own, that took over 20 s once.
        await _until(pilot, lambda: table.row_count == 3, timeout=60.0)
        await pilot.press("s")  # sorted by name: rows stay put while their states change
        assert [str(table.get_row_at(i)[1]) for i in range(3)] == ["async-pump", "sync-pump", "unwired"]
        await _until(pilot, lambda: app.snapshot.pipeline("sync-pump").counts.processed > 0)

        # space on the highlighted row switches its generator off: yields stop.
        await pilot.press("down", "down")
        assert table.highlighted_pipeline == "unwired"
        await pilot.press("space")
        assert demo_host.snapshot().pipeline("unwired").on is False
        await pilot.pause(0.3)
        stopped = demo_host.snapshot().pipeline("unwired").counts.yielded
        await pilot.pause(1.2)
        assert demo_host.snapshot().pipeline("unwired").counts.yielded == stopped
        assert str(table.get_row_at(2)[0]) == "○"

        # space on another row toggles it too; `a` switches everything back on.
        await pilot.press("up", "space")
        assert demo_host.snapshot().pipeline("sync-pump").on is False
        await pilot.press("a")
        assert all(p.on for p in demo_host.snapshot().pipelines)

        # `n` all off, then `r` zeroes every count on screen.
        await pilot.press("n")
        await pilot.pause(0.4)
        await pilot.press("r")
        await _until(pilot, lambda: all(str(table.get_row_at(i)[2]) == "0" for i in range(3)))

        # the detail panel explains the highlighted row; the log panel and help open and close.
        await pilot.press("down")
        await _until(pilot, lambda: str(app.query_one("#detail").border_title).startswith("unwired: numbers"))

        # enter opens the detail screen: the missing ids and the diagnosis with its fix.
        await pilot.press("a")
        await _until(pilot, lambda: app.snapshot.pipeline("unwired").verdict.state == "lost", timeout=15)
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        await pilot.pause(0.5)
        stages = _text(app.screen.query_one("#detail-stages", Static).content)
        yielded = app.snapshot.pipeline("unwired").counts.yielded
        assert re.search(r"sent\s+0\s+\d+: \d+-\d+", stages), stages  # e.g. "sent  0  62: 19-80"
        why = _text(app.screen.query_one(".why-text", Static).content)
        assert "nothing sends this generator's values to a topic" in why
        fix = app.screen.query_one(".fix-text")
        assert fix.display and yielded > 0
        await pilot.press("escape")
        assert not isinstance(app.screen, DetailScreen)

        # m draws the flow: the lost generator selected and marked, enter opens its row, escape back.
        await pilot.press("m")
        assert isinstance(app.screen, MapScreen)
        await pilot.pause(0.5)
        the_map = app.screen
        wanted = {
            "unwired",
            "sync-pump",
            "sync_topic",
            "sync_agent",
            "async-pump",
        }  # topics: the test's prefix

        def drawn() -> set[str]:
            return {n.label.rsplit("-", 1)[-1] if n.kind == "topic" else n.label for n in the_map.graph.nodes}

        await _until(pilot, lambda: wanted <= drawn())
        graph = the_map.graph
        assert app.screen.selected == "source:unwired"
        assert next(n for n in graph.nodes if n.key == "source:unwired").verdict.startswith("lost at sent: ")
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen) and app.screen.pipeline_name == "unwired"
        await pilot.press("escape")
        assert isinstance(app.screen, MapScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, MapScreen)
        await pilot.press("l")
        assert app.query_one("#log").has_class("shown")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)

        await pilot.press("q")
        await pilot.pause(0.2)
    assert app.return_code == 0
