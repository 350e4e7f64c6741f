"""SVG snapshots of every screen and state, driven by a fake monitor (no broker, seconds).

Update the pictures after a deliberate change of the screen with ``pytest --snapshot-update``
and look at the report pytest-textual-snapshot writes for the ones that changed.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from fakes import (
    LOG_PATH,
    FakeMonitor,
    catalogue_monitor,
    crashed_monitor,
    demo_monitor,
    empty_monitor,
    fleet_monitor,
    hops_monitor,
    lost_monitor,
    shop_monitor,
    skipped_monitor,
)
from textual.pilot import Pilot
from textual.widgets import Input, Static

from genmon.tui import GenmonApp
from genmon.tui.detail_panel import DetailPanel
from genmon.tui.detail_screen import DetailScreen
from genmon.tui.map_screen import MapScreen
from genmon.tui.table import PipelineTable
from genmon.watch.logs import LogRing

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


def test_a_loss_proven_by_position_while_flowing(snap_compare) -> None:  # type: ignore[no-untyped-def]
    """The row names the skip and its proof; the detail screen explains it and gives the fix."""
    assert snap_compare(screen(skipped_monitor()), press=["enter"], terminal_size=(120, 40))


def test_where_is_a_value_that_died_at_a_later_hop(snap_compare) -> None:  # type: ignore[no-untyped-def]
    """/ on the detail screen of the orders row, 7, enter: every hop the value reached, its id and
    time there, and where it stopped in the error colour."""
    keys = ["down", "enter", "slash", "7", "enter"]
    assert snap_compare(screen(hops_monitor()), press=keys, terminal_size=(120, 35))


async def test_where_is_asks_answers_refuses_and_escape_leaves_the_question_first() -> None:
    app = screen(hops_monitor())
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.press("down", "enter")  # the hop's row sorts first, then its origin's
        detail = app.screen
        assert isinstance(detail, DetailScreen) and detail.pipeline_name == "orders"
        await pilot.press("slash", "1", "4", "enter")
        answer = str(detail.query_one("#detail-path", Static).render())
        assert "orders #14" in answer and "misroute() #13" in answer and "lost at received" in answer
        await pilot.press("slash", "9", "9", "enter")
        assert "orders has no value 99 (ids 1 to 20)" in str(
            detail.query_one("#detail-path", Static).render()
        )
        await pilot.press("slash", "x", "enter")
        assert "an id is a whole number" in str(detail.query_one("#detail-path", Static).render())
        assert detail.query_one("#path-ask", Input).has_class("shown")  # refused: still asking
        await pilot.press("escape")  # the question goes, the screen stays
        assert app.screen is detail and not detail.query_one("#path-ask", Input).has_class("shown")
        await pilot.press("escape")
        assert not isinstance(app.screen, DetailScreen)


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


def busy(rows: int, apps: int = 1):  # type: ignore[no-untyped-def]
    from fakes import BusyMonitor

    return FakeMonitor(BusyMonitor(rows, apps).snap)  # its first snapshot, standing still


def test_200_rows_with_problems_sorted_first(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(GenmonApp(busy(200)), terminal_size=(120, 35))


def test_the_screen_at_80x24(snap_compare) -> None:  # type: ignore[no-untyped-def]
    """Columns drop in the documented order: the flow first, then acked."""
    assert snap_compare(GenmonApp(busy(200)), terminal_size=(80, 24))


def test_rows_grouped_by_app(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(GenmonApp(busy(12, apps=3)), terminal_size=(120, 35))


@contextlib.asynccontextmanager
async def on_screen(monitor: FakeMonitor) -> AsyncIterator[tuple[GenmonApp, Pilot, PipelineTable]]:
    """The screen at 120x35 on ``monitor``, its first snapshot shown; ``q`` at the end."""
    app = GenmonApp(monitor)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause(0.3)
        yield app, pilot, app.query_one(PipelineTable)
        await pilot.press("q")


async def test_sort_filter_find_and_the_state_counts() -> None:
    # standing still: each key press shows its effect at once
    async with on_screen(busy(200)) as (app, pilot, table):
        assert "200 pipelines: 4 lost · 3 paused · 193 ok" in app.sub_title
        lost = [f"gen-{i:04d}" for i in range(200) if i % 50 == 7]
        assert table._order[:4] == lost  # problems first
        assert table.border_title == "pipelines (200) ─ sorted by problems"
        await pilot.press("s")  # by name
        assert table._order[:3] == ["gen-0000", "gen-0001", "gen-0002"]
        assert table.border_title == "pipelines (200) ─ sorted by name"
        await pilot.press("s")  # by loss
        assert table._order[:4] == lost
        await pilot.press("f")  # problems only
        assert table._order == lost and table.row_count == 4
        assert table.border_title == "pipelines (4 of 200) ─ sorted by loss · problems only"
        await pilot.press("f")  # paused only
        assert table._order == ["gen-0003", "gen-0073", "gen-0143"]
        await pilot.press("f")  # all again
        assert table.row_count == 200
        await pilot.press("slash", *"topic-07")
        assert set(table._order) == {f"gen-{i:04d}" for i in range(200) if i % 20 == 7}
        assert 'matching "topic-07"' in str(table.border_title)
        await pilot.press("escape")  # clears the search
        assert table.row_count == 200 and table.has_focus
        await pilot.press("s", "s")  # back to problems first (rate, then problems)


async def test_the_highlighted_row_stays_highlighted_when_rows_resort() -> None:
    from dataclasses import replace as copy

    from genmon.model import Verdict, VerdictState

    monitor = busy(30)
    async with on_screen(monitor) as (_app, pilot, table):
        table.move_cursor(row=table._order.index("gen-0020"))
        await pilot.pause(0.1)
        assert table.highlighted_pipeline == "gen-0020"
        before = table._order.index("gen-0020")
        pipes = tuple(
            copy(p, verdict=Verdict(VerdictState.LOST, "lost at received: 3", "received", lost=3))
            if p.name == "gen-0020"
            else p
            for p in monitor.snap.pipelines
        )
        monitor.snap = copy(monitor.snap, pipelines=pipes)
        await pilot.pause(0.6)  # a few refreshes
        assert table._order.index("gen-0020") < before  # it moved up: a problem now
        assert table.highlighted_pipeline == "gen-0020"


async def test_enter_on_an_apps_header_row_collapses_and_opens_it() -> None:
    from genmon.tui.table import GROUP

    async with on_screen(busy(12, apps=3)) as (_app, pilot, table):
        headers = [key for key in table._order if key.startswith(GROUP)]
        assert len(headers) == 3 and table.row_count == 15
        table.move_cursor(row=table._order.index(headers[0]))
        await pilot.press("enter")
        assert table.row_count == 11  # its 4 rows folded under the header
        assert table.highlighted_group == headers[0].removeprefix(GROUP)
        await pilot.press("enter")
        assert table.row_count == 15


async def test_page_home_end_keys_move_the_highlight_and_keep_it_in_view() -> None:
    async with on_screen(busy(200)) as (_app, pilot, table):
        rows = table.scrollable_content_region.height - 1  # under the column labels
        await pilot.press("pagedown")
        assert table.cursor_row == rows - 1 and table.scroll_y == 0  # the last row on the page
        await pilot.press("pagedown")
        assert table.cursor_row == 2 * (rows - 1) and table.scroll_y > 0
        first = int(table.scroll_y)
        assert first <= table.cursor_row < first + rows  # in view
        await pilot.press("end")
        assert table.highlighted_key == table._order[-1] and int(table.scroll_y) == 200 - rows
        await pilot.press("home")
        assert table.cursor_row == 0 and table.scroll_y == 0
        await pilot.press("up")  # at the top: stays
        assert table.cursor_row == 0


async def test_a_click_highlights_a_row_and_a_second_click_opens_it() -> None:
    from genmon.tui.detail_screen import DetailScreen

    async with on_screen(busy(20)) as (app, pilot, table):
        third = table._order[2]
        await pilot.click(PipelineTable, offset=(10, 1 + 3))  # the border, the labels, rows 0, 1, 2
        assert table.highlighted_pipeline == third
        assert str(app.query_one("#detail").border_title).startswith(f"{third}:")
        assert not isinstance(app.screen, DetailScreen)
        await pilot.click(PipelineTable, offset=(10, 1 + 3))
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("escape")


async def test_a_refresh_draws_only_the_rows_that_changed() -> None:
    """Per refresh the table's work follows what changed on screen, not how many rows there are."""
    from dataclasses import replace as copy

    from genmon.model import Counts

    monitor = busy(200)
    async with on_screen(monitor) as (_app, pilot, table):
        drawn: list[int] = []
        line = table._line
        table._line = lambda cells, palette: (drawn.append(1), line(cells, palette))[1]  # type: ignore[method-assign]
        await pilot.pause(0.6)  # three refreshes of the same snapshot: nothing to draw
        assert drawn == []
        name = table._order[5]
        pipes = tuple(
            copy(p, counts=Counts(*(c + 1 for c in p.counts.as_tuple()))) if p.name == name else p
            for p in monitor.snap.pipelines
        )
        monitor.snap = copy(monitor.snap, pipelines=pipes)
        await pilot.pause(0.6)
        assert len(drawn) == 1  # that row's line, once; the 199 others and the labels were not drawn
        assert str(table.get_row_at(5)[2]) == str(pipes[[p.name for p in pipes].index(name)].counts.yielded)


async def test_the_highlight_starts_on_the_first_row_until_the_user_moves_it() -> None:
    """At start every row may look fine; when one turns into a problem it sorts first, and the
    highlight (and so the first "why" read) goes with the first row — until the user moves it."""
    from dataclasses import replace as copy

    from genmon.model import Verdict, VerdictState

    monitor = busy(30)
    async with on_screen(monitor) as (_app, pilot, table):
        assert table.cursor_row == 0
        assert table.highlighted_pipeline == table._order[0] == "gen-0007"  # busy(30)'s one loss
        lost = Verdict(VerdictState.LOST, "lost at received: 3", "received", lost=3)
        pipes = tuple(
            copy(p, verdict=lost)
            if p.name == "gen-0020"
            else copy(p, verdict=Verdict(VerdictState.OK, "ok"))
            if p.name == "gen-0007"
            else p
            for p in monitor.snap.pipelines
        )
        monitor.snap = copy(monitor.snap, pipelines=pipes)
        await pilot.pause(0.6)
        assert table._order[0] == "gen-0020" and table.highlighted_pipeline == "gen-0020"
        await pilot.press("down")  # the user's choice from now on
        chosen = table.highlighted_pipeline
        assert chosen != "gen-0020" and table.chosen


async def test_escape_clears_a_search_after_enter_and_an_empty_table_empties_the_detail() -> None:
    async with on_screen(busy(30)) as (app, pilot, table):
        await pilot.press("slash", *"gen-002", "enter")
        assert table.row_count == 10 and table.has_focus  # the search applies, the table has the keys
        await pilot.press("escape")
        assert table.row_count == 30 and "matching" not in str(table.border_title)
        await pilot.press("slash", *"nothing-like-it")
        await pilot.pause(0.1)
        assert table.row_count == 0
        panel = app.query_one(DetailPanel)
        assert panel.border_title == "no row shown"  # not the last row's explanation any more


def test_map_of_a_multi_hop_app(snap_compare) -> None:  # type: ignore[no-untyped-def]
    """m: generators, topics and agents left to right by hop, counts on the edges, the edge where
    values die in red with the verdict beside it, the node where they die selected."""
    assert snap_compare(screen(hops_monitor()), press=["m"], terminal_size=(160, 35))


def test_map_of_the_demo_at_80x24(snap_compare) -> None:  # type: ignore[no-untyped-def]
    """At 80x24 the map scrolls; it is never cut into garble."""
    assert snap_compare(screen(demo_monitor()), press=["m"], terminal_size=(80, 24))


def test_map_of_the_shop_example(snap_compare) -> None:  # type: ignore[no-untyped-def]
    """examples/shop: a repartition topic (Faust's own) read by the agent that made it, payments by
    ledger; each edge goes to the agent that reads that topic only; the paused generator dimmed."""
    assert snap_compare(screen(shop_monitor()), press=["m"], terminal_size=(160, 35))


def test_map_of_the_catalogue(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(screen(catalogue_monitor()), press=["m"], terminal_size=(200, 50))


def test_map_of_fifty_pipelines_folds_what_does_not_fit(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(screen(busy(50)), press=["m"], terminal_size=(200, 50))


async def test_map_keys_move_between_nodes_open_a_row_and_go_back() -> None:
    app = screen(hops_monitor())
    async with app.run_test(size=(160, 35)) as pilot:
        await pilot.press("m")
        the_map = app.screen
        assert isinstance(the_map, MapScreen)
        await pilot.pause(0.2)
        assert the_map.selected == "topic:routd"  # where the values die
        assert "from orders 7, 14" in str(the_map.query_one("#map-legend", Static).render())
        await pilot.press("up")  # within the column: the topic the hop sends to rightly
        assert the_map.selected == "topic:routed"
        await pilot.press("down")
        assert the_map.selected == "topic:routd"
        await pilot.press("left")
        assert the_map.selected == "agent:misroute"
        await pilot.press("left", "left", "left", "left", "left")
        assert the_map.selected == "source:orders"  # the first column; further left stays there
        await pilot.press("right")
        assert the_map.selected == "topic:orders"
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen) and app.screen.pipeline_name == "orders"
        await pilot.press("escape")
        assert app.screen is the_map
        await pilot.press("m")  # m closes it too
        assert not isinstance(app.screen, MapScreen)


def _replayed(tmp_path):  # type: ignore[no-untyped-def]
    from fakes import record_a_loss

    from genmon.watch.replay import Replay

    path = str(tmp_path / "run.genmon")
    record_a_loss(path)
    return Replay(path)


def test_a_replay_at_the_moment_before_the_loss(snap_compare, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The replay's status line: where in the run, paused, its keys; the rows as they were 6 s in."""
    run = _replayed(tmp_path)
    run.seek_seconds(6)
    assert snap_compare(GenmonApp(run), terminal_size=(120, 30))


def test_a_replay_at_the_moment_the_loss_is_judged(snap_compare, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = _replayed(tmp_path)
    run.seek_seconds(6)
    assert snap_compare(GenmonApp(run), press=["j"], terminal_size=(120, 30))


async def test_replay_keys_step_jump_play_and_refuse_switches(tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = _replayed(tmp_path)
    app = GenmonApp(run)
    async with app.run_test(size=(120, 30)) as pilot:
        assert run.at == 12.0  # a replay opens at the run's end
        assert app.snapshot is not None and app.snapshot.pipeline("numbers").verdict.state == "lost"
        await pilot.press("comma", "comma", "comma", "comma", "comma", "comma", "comma")
        assert run.at == 5.0 and app.snapshot.pipeline("numbers").verdict.state == "in_flight"
        await pilot.press("full_stop")
        assert run.at == 6.0
        await pilot.press("j")  # the next moment a row gets a problem: once received stood still 5 s
        assert run.at == 7.0 and app.snapshot.pipeline("numbers").verdict.state == "lost"
        assert "replay 7.0 s of 12.0 s" in str(app.query_one("#status", Static).render())
        await pilot.press("j")
        assert run.at == 7.0 and "no later problem" in str(app.query_one("#status", Static).render())
        await pilot.press("space")  # the switch key does nothing to a recording
        assert run.at == 7.0 and app.snapshot.pipeline("numbers").on
        await pilot.press("full_stop", "full_stop", "full_stop")
        await pilot.press("p")  # plays on at the recorded pace (a second a sample), to the end
        await pilot.pause(1.0)
        assert app.replay is not None and app.replay.playing and run.at < 12.0
        await pilot.pause(1.8)
        assert run.at == 12.0 and app.replay is not None and not app.replay.playing
        await pilot.press("q")
