"""SVG snapshots of every screen and state, driven by a fake monitor (no broker, seconds).

Update the pictures after a deliberate change of the screen with ``pytest --snapshot-update``
and look at the report pytest-textual-snapshot writes for the ones that changed.
"""

from __future__ import annotations

import logging

from fakes import (
    LOG_PATH,
    FakeMonitor,
    crashed_monitor,
    demo_monitor,
    empty_monitor,
    fleet_monitor,
    lost_monitor,
)

from genmon.host.logs import LogRing
from genmon.tui import GenmonApp

DESCRIPTIONS = {
    "unwired": "a generator is iterated, but nothing sends its values to the agent's topic",
    "sync-pump": "a plain generator; a task sends each value with await topic.send(value=...)",
    "async-pump": "an async generator that sleeps between values; a task sends each one",
}


def screen(monitor: FakeMonitor) -> GenmonApp:
    ring = LogRing()
    ring.setFormatter(logging.Formatter("%(levelname)-7s %(name)s: %(message)s"))  # no clock in a picture
    for n in range(3):
        ring.emit(logging.LogRecord("faust.app", logging.INFO, __file__, n, f"[^Worker]: line {n}", (), None))
    return GenmonApp(monitor, descriptions=DESCRIPTIONS, log_ring=ring)


def test_main_screen(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(screen(demo_monitor()), terminal_size=(120, 35))


def test_a_fleet_of_three_workers_one_gone(snap_compare) -> None:  # type: ignore[no-untyped-def]
    """The workers panel opens by itself for a fleet; ids of several workers read ``w2:17``."""
    assert snap_compare(screen(fleet_monitor()), terminal_size=(120, 35))


def test_the_fleet_merge_behind_the_fleet_screen() -> None:
    snap = fleet_monitor().snapshot()
    pipe = snap.pipeline("numbers")
    assert pipe.counts.as_tuple() == (820, 820, 820, 700, 700)
    assert [(w.label, w.alive) for w in snap.workers] == [("w1", True), ("w2", True), ("w3", False)]
    assert pipe.verdict.state == "unverifiable" and "w3" in pipe.verdict.text
    assert pipe.missing["received"].text() == "w3:1-120"


def test_main_screen_at_80x20(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(screen(demo_monitor()), terminal_size=(80, 20))


def test_detail_screen_of_a_lost_row(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(screen(demo_monitor()), press=["enter"], terminal_size=(120, 35))


def test_log_panel(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(screen(demo_monitor()), press=["l"], terminal_size=(120, 35))


def test_help_screen(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(screen(demo_monitor()), press=["question_mark"], terminal_size=(120, 45))


def test_a_crashed_app(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(screen(crashed_monitor()), press=["down", "down", "down"], terminal_size=(120, 35))


def test_crash_ids_stalls_and_a_sender_row(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(screen(lost_monitor()), press=["enter"], terminal_size=(120, 40))


def test_an_app_with_no_pipeline(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(screen(empty_monitor()), terminal_size=(120, 35))


async def test_commands_reach_the_monitor_and_refusals_are_shown() -> None:
    monitor = lost_monitor()
    app = screen(monitor)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause(0.3)
        await pilot.press("space")  # crashing-agent: a tracked generator
        assert monitor.commands == [("set", "crashing-agent", "False")]
        await pilot.press("down", "space")  # tick(): a sender, refused with the reason
        await pilot.pause(0.1)
        notes = [str(n.message) for n in app._notifications]
        assert any("tick() is not a tracked generator" in note for note in notes), notes
        await pilot.press("n", "a", "r")
        assert monitor.commands[1:] == [("all", "False"), ("all", "True"), ("reset",)]
        assert LOG_PATH in str(app.query_one("#status").content)
        await pilot.press("q")
    assert app.return_code == 0


def test_a_terminal_below_80x20_shows_the_notice(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(screen(demo_monitor()), terminal_size=(60, 15))


async def test_the_notice_comes_and_goes_with_the_terminal_size() -> None:
    from genmon.tui.too_small import TooSmallScreen

    app = screen(demo_monitor())
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause(0.3)
        assert not isinstance(app.screen, TooSmallScreen)
        await pilot.resize_terminal(79, 30)
        await pilot.pause(0.2)
        assert isinstance(app.screen, TooSmallScreen)
        assert "this one is 79x30" in str(app.screen.query_one("#too-small-text").content)
        await pilot.resize_terminal(100, 19)
        await pilot.pause(0.2)
        assert "this one is 100x19" in str(app.screen.query_one("#too-small-text").content)
        await pilot.resize_terminal(80, 20)
        await pilot.pause(0.2)
        assert not isinstance(app.screen, TooSmallScreen)
        assert app.query_one("#pipelines").row_count == 3  # the screen is back, with its rows
        await pilot.resize_terminal(70, 20)
        await pilot.pause(0.2)
        await pilot.press("q")  # q still quits from the notice
    assert app.return_code == 0


def test_a_dead_embedded_broker_is_named_and_b_offered(snap_compare) -> None:  # type: ignore[no-untyped-def]
    """Header ✗ DOWN, the status line says since when, rows whose values stopped with it are lost
    with the broker (never the app's fix), and the footer offers b (restart the broker)."""
    from fakes import broker_down_monitor

    monitor = broker_down_monitor()
    snap = monitor.snapshot()
    assert [p.verdict.text for p in snap.pipelines] == [
        "lost with the broker at received: 14 (broker down since 17:40:03)",
        "lost with the broker at acked: 19 (broker down since 17:40:03)",
    ]
    app = GenmonApp(monitor, descriptions=DESCRIPTIONS, recover=lambda: "restarted")
    assert snap_compare(app, terminal_size=(120, 35))
