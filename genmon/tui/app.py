"""GenmonApp: the live screen. Reads snapshots on a worker thread, sends commands.

It is written against :class:`genmon.model.Monitor` (snapshots, commands, typed refusals), never a
Faust object or the host class. Faust runs elsewhere (docs/ARCHITECTURE.md, "The screen never
shares a loop with Faust"), so a generator that blocks Faust's loop never freezes this screen: the
stall shows as counts that stop moving.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable
from dataclasses import replace

from textual import events, on, work
from textual.app import App, ComposeResult, ScreenStackError
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.reactive import var
from textual.widgets import Footer, Input, RichLog, Static
from textual.worker import get_current_worker

from genmon.model import AppState, Monitor, Refused, Snapshot, header_line, one_line
from genmon.model.control import LogSource
from genmon.model.text import megabytes
from genmon.model.view import FILTERS, SORTS, SortBy, following
from genmon.tui.detail_panel import DetailPanel, RateHistory
from genmon.tui.detail_screen import DetailScreen
from genmon.tui.header import SteadyHeader
from genmon.tui.help import HelpScreen
from genmon.tui.map_screen import MapScreen
from genmon.tui.messages import RowChosen, RowHighlighted, SnapshotTaken
from genmon.tui.replay_controls import ReplayClock
from genmon.tui.table import NAVIGATION, PipelineTable
from genmon.tui.terminal import driver_class
from genmon.tui.too_small import TooSmallScreen, too_small
from genmon.tui.workers_panel import WorkersTable

REFRESH_SECONDS = 0.2


class GenmonApp(App[None]):
    """The table of pipelines, the detail panel for the highlighted one, and a log panel."""

    CSS_PATH = "genmon.tcss"
    TITLE = "genmon"
    sub_title: var[str] = var("")
    """The rows' state counts, shown by the header. Textual's own ``App.sub_title`` repaints the
    whole screen on every change (and the counts change on most refreshes of a busy app); the
    header's title, which watches it, repaints only itself (see ``tui/header.py``)."""
    BINDINGS = [
        Binding(
            "space",
            "switch",
            "on/off",
            id="toggle",
            tooltip="switch the highlighted pipeline's generator off or on",
        ),
        Binding(
            "d",
            "detail",
            "detail",
            id="detail",
            tooltip="details of the highlighted pipeline (enter too): missing ids, latency, diagnosis; "
            "there / asks where one value went, hop by hop",
        ),
        Binding(
            "s",
            "sort",
            "sort",
            id="sort",
            tooltip="sort rows: problems first (lost, crashed, stalled, in flight, ok) / name / loss / rate",
        ),
        Binding(
            "f",
            "filter",
            "filter",
            id="filter",
            tooltip="show rows: all / problems only / paused only",
        ),
        Binding(
            "slash",
            "search",
            "find",
            key_display="/",
            id="search",
            tooltip="show only rows whose name, topic or agent contains what you type (escape clears)",
        ),
        Binding("a", "all_on", "all on", id="all-on", show=False, tooltip="all generators on"),
        Binding("n", "all_off", "all off", id="all-off", show=False, tooltip="all generators off"),
        Binding("r", "reset", "reset", id="reset", show=False, tooltip="reset every count to zero"),
        Binding("question_mark", "help", "help", key_display="?", id="help", tooltip="this help"),
        Binding(
            "q", "quit", "quit", id="quit", tooltip="quit (ctrl+c too): stops Faust and the embedded broker"
        ),
        Binding("l", "toggle_log", "log", id="log", tooltip="show or hide Faust's log lines"),
        Binding(
            "m",
            "map",
            "map",
            id="map",
            tooltip="the flow as a graph: generators, topics, agents, values on each edge, where they die",
        ),
        Binding(
            "w",
            "toggle_workers",
            "workers",
            id="workers",
            tooltip="show or hide the worker processes: alive or gone, report age, share of the values",
        ),
        Binding(
            "b",
            "restart_broker",
            "restart broker",
            id="restart-broker",
            tooltip="the embedded broker is down: restart it (empty) and the app, keeping the counts",
        ),
        Binding("p", "replay_play", "play/pause", id="replay-play", tooltip="replay: play or pause the run"),
        Binding(
            "full_stop",
            "replay_step(1)",
            "step",
            key_display=".",
            id="replay-step",
            tooltip="replay: one sample on",
        ),
        Binding(
            "comma", "replay_step(-1)", "back", key_display=",", show=False, tooltip="replay: one sample back"
        ),
        Binding(
            "j",
            "replay_jump",
            "next problem",
            id="replay-jump",
            tooltip="replay: the next moment a row gets a problem",
        ),
        Binding("ctrl+c", "quit", "quit", show=False, priority=True),
    ]

    def __init__(
        self,
        monitor: Monitor,
        *,
        descriptions: dict[str, str] | None = None,
        log_ring: LogSource | None = None,
        recover: Callable[[], str] | None = None,
    ) -> None:
        """``recover``: restarts genmon's own broker and the app (offered with ``b`` while that
        broker does not answer); None when the broker is not genmon's to restart."""
        super().__init__(driver_class=driver_class())
        self.recover = recover
        self._recovering = False
        self._status_text = ""
        self.monitor = monitor
        self.descriptions = descriptions or {}
        self.log_ring = log_ring
        self.snapshot: Snapshot | None = None
        self.history = RateHistory()
        self._log_seq = 0
        self._workers_chosen = False
        """The user showed or hid the workers panel: no longer shown by itself for a fleet."""
        self.replay = ReplayClock(monitor) if hasattr(monitor, "seek") else None  # type: ignore[arg-type]
        """A recorded run (genmon replay): time moves with the user's keys, not by itself."""

    def compose(self) -> ComposeResult:
        yield SteadyHeader()
        yield Static(id="status")
        yield Input(
            id="search", placeholder="find rows by name, topic or agent (enter keeps it, escape clears)"
        )
        table = PipelineTable(id="pipelines")
        table.border_title = "pipelines"
        yield table
        yield WorkersTable(id="workers")
        yield DetailPanel(id="detail")
        yield RichLog(id="log", max_lines=2000, wrap=False, highlight=False, markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#log", RichLog).border_title = "log"
        self.query_one(PipelineTable).focus()
        loop = self._loop_or_none()
        if loop is not None:
            for sig in (signal.SIGTERM, signal.SIGHUP):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    # quit as q does; the exit status still says a signal ended it (128 + N)
                    loop.add_signal_handler(sig, self.exit, None, 128 + sig)
        self._apply(self.monitor.snapshot())
        self._poll()
        if self.replay is not None:
            self.set_interval(0.1, self._replay_tick)

    def _replay_tick(self) -> None:
        if self.replay is not None and self.replay.tick():
            self._replayed()

    def _loop_or_none(self) -> asyncio.AbstractEventLoop | None:
        try:
            return asyncio.get_running_loop()
        except RuntimeError:
            return None

    def on_resize(self, event: events.Resize) -> None:
        """Below 80x20 the notice covers the screen; it goes once the terminal fits again."""
        columns, lines = event.size.width, event.size.height
        notice = next((s for s in self.screen_stack if isinstance(s, TooSmallScreen)), None)
        if too_small(columns, lines):
            if notice is None:
                notice = TooSmallScreen()
                self.push_screen(notice)
                self.call_after_refresh(notice.show, columns, lines)
            else:
                notice.show(columns, lines)
        elif notice is not None:
            if self.screen is notice:
                self.pop_screen()
            else:
                notice.dismiss()

    @work(thread=True, exclusive=True, name="snapshots")
    def _poll(self) -> None:
        """Take a snapshot, post it, wait, repeat: the next one starts when the last is done."""
        worker = get_current_worker()
        while not worker.is_cancelled:
            self.post_message(SnapshotTaken(self.monitor.snapshot()))
            worker.cancelled_event.wait(REFRESH_SECONDS)  # a quit does not wait out the pause

    @on(SnapshotTaken)
    def _on_snapshot(self, message: SnapshotTaken) -> None:
        if message.snapshot is self.snapshot:
            return  # the sampler's same snapshot again (a watcher's between reports): nothing moved
        try:
            self._apply(message.snapshot)
        except (NoMatches, ScreenStackError):
            return  # a snapshot that arrived while the screen was being torn down

    def _apply(self, snap: Snapshot) -> None:
        was_up = self.snapshot.broker.up if self.snapshot is not None else True
        refused_before = self.snapshot.switches_refused if self.snapshot is not None else None
        self.snapshot = snap
        if snap.switches_refused and snap.switches_refused != refused_before:
            self.notify(snap.switches_refused, severity="error", timeout=10)
        if snap.broker.up != was_up:
            self.refresh_bindings()  # ``b`` (restart the broker) comes and goes with it
        now = time.monotonic()
        for pipe in snap.pipelines:
            self.history.add(pipe, now)
        self._drain_log()
        if isinstance(self.screen, DetailScreen):
            self.screen.show(snap, self.history)
            return  # the table is hidden under the modal: skip its repaint
        if isinstance(self.screen, MapScreen):
            self.screen.show(snap)
            return
        if isinstance(self.screen, (HelpScreen, TooSmallScreen)):
            return
        header = header_line(snap)
        if header != self.sub_title:
            self.sub_title = header
        text = (self.replay.line() if self.replay is not None else "") + status_line(snap)
        if text != self._status_text:  # only on a change; one line high: no layout
            self._status_text = text
            self.query_one("#status", Static).update(text, layout=False)
        table = self.query_one(PipelineTable)
        table.show(snap, self.history.current() if table.view.sort == SortBy.RATE else None)
        self._title_table(table, len(snap.pipelines))
        workers = self.query_one(WorkersTable)
        if snap.fleet and not self._workers_chosen:
            workers.add_class("shown")
        if workers.has_class("shown"):
            workers.show(snap)
        self._show_detail()

    def _show_detail(self) -> None:
        if self.snapshot is None:
            return
        table = self.query_one(PipelineTable)
        group = table.groups.get(table.highlighted_group or "")
        if group is not None:
            self.query_one(DetailPanel).show_group(group.app_id, len(group.rows), group.total, group.counts)
            return
        name = table.highlighted_pipeline
        pipe = next((p for p in self.snapshot.pipelines if p.name == name), None)
        self.query_one(DetailPanel).show(pipe, self.history, self.snapshot)

    def _drain_log(self) -> None:
        if self.log_ring is None:
            return
        self._log_seq, lines = self.log_ring.since(self._log_seq)
        if lines:
            log = self.query_one("#log", RichLog)
            for line in lines:
                log.write(line)

    # -- events and actions -------------------------------------------------------------
    @on(RowHighlighted)
    def _on_highlight(self, _: RowHighlighted) -> None:
        self._show_detail()

    @on(RowChosen)
    def _on_choose(self, _: RowChosen) -> None:
        self.action_detail()

    def _title_table(self, table: PipelineTable, total: int) -> None:
        shown = f"{table.matching} of {total}" if table.matching != total else f"{total}"
        title = f"pipelines ({shown}) ─ {table.view.describe()}"
        if title != table.border_title:
            table.border_title = title

    def _view(self, **changes: object) -> None:
        """Apply a change of order, filter or search at once (not at the next refresh)."""
        table = self.query_one(PipelineTable)
        table.view = replace(table.view, **changes)  # type: ignore[arg-type]
        if self.snapshot is not None:
            table.show(self.snapshot, self.history.current() if table.view.sort == SortBy.RATE else None)
            self._title_table(table, len(self.snapshot.pipelines))
            self._show_detail()

    def action_sort(self) -> None:
        view = self.query_one(PipelineTable).view
        self._view(sort=following(SORTS, view.sort))

    def action_filter(self) -> None:
        view = self.query_one(PipelineTable).view
        self._view(only=following(FILTERS, view.only))

    def action_search(self) -> None:
        search = self.query_one("#search", Input)
        search.add_class("shown")
        search.focus()

    @on(Input.Changed, "#search")
    def _on_search(self, event: Input.Changed) -> None:
        self._view(text=event.value.strip())

    @on(Input.Submitted, "#search")
    def _on_search_done(self, _: Input.Submitted) -> None:
        search = self.query_one("#search", Input)
        if not search.value.strip():
            search.remove_class("shown")
        self.query_one(PipelineTable).focus()

    def on_key(self, event: events.Key) -> None:
        search = self.query_one("#search", Input)
        if event.key == "escape" and (search.has_focus or search.value):  # the search typed, or still applied
            search.value = ""
            search.remove_class("shown")
            self.query_one(PipelineTable).focus()
            event.stop()

    def action_detail(self) -> None:
        table = self.query_one(PipelineTable)
        group = table.highlighted_group
        if group is not None:  # enter on an app's header row: collapse or open its rows
            collapsed = table.view.collapsed
            self._view(collapsed=collapsed - {group} if group in collapsed else collapsed | {group})
            return
        name = table.highlighted_pipeline
        if name is None or self.snapshot is None or isinstance(self.screen, DetailScreen):
            return
        screen = DetailScreen(name)
        self.push_screen(screen)
        self.call_after_refresh(screen.show, self.snapshot, self.history)

    def action_map(self) -> None:
        if self.snapshot is None or isinstance(self.screen, (MapScreen, DetailScreen)):
            return
        screen = MapScreen(self._open_detail)
        self.push_screen(screen)
        self.call_after_refresh(screen.show, self.snapshot, True)

    def _open_detail(self, name: str) -> None:
        """The detail screen of ``name`` over the map (escape goes back to the map)."""
        if self.snapshot is None or isinstance(self.screen, DetailScreen):
            return
        screen = DetailScreen(name)
        self.push_screen(screen)
        self.call_after_refresh(screen.show, self.snapshot, self.history)

    def action_switch(self) -> None:
        name = self.query_one(PipelineTable).highlighted_pipeline
        if name is None or self.snapshot is None:
            return
        on_now = next((p.on for p in self.snapshot.pipelines if p.name == name), True)
        try:
            self.monitor.set_generator(name, not on_now)
        except Refused as refusal:
            self.notify(str(refusal), severity="warning", timeout=4)
            return
        self.notify(f"{name}: generator {'off' if on_now else 'on'}", timeout=2)
        self._apply(self.monitor.snapshot())

    def action_all_on(self) -> None:
        self.monitor.set_all(True)
        self._apply(self.monitor.snapshot())

    def action_all_off(self) -> None:
        self.monitor.set_all(False)
        self._apply(self.monitor.snapshot())

    def action_reset(self) -> None:
        self.monitor.reset()
        self.history = RateHistory()
        self.notify("counts reset", timeout=2)

    def action_toggle_log(self) -> None:
        self.query_one("#log", RichLog).toggle_class("shown")

    def action_toggle_workers(self) -> None:
        self._workers_chosen = True
        workers = self.query_one(WorkersTable)
        workers.toggle_class("shown")
        if workers.has_class("shown") and self.snapshot is not None:
            workers.show(self.snapshot)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``b`` is shown (in the footer) only while genmon's own broker is down; the replay's keys
        only over a recorded run, where the switches do nothing."""
        if action.startswith("replay_"):
            return self.replay is not None
        if self.replay is not None and action in ("switch", "all_on", "all_off", "reset", "restart_broker"):
            return False
        if action == "restart_broker":
            snap = self.snapshot
            down = snap is not None and snap.broker.embedded and not snap.broker.up
            return self.recover is not None and down and not self._recovering
        return True

    def action_replay_play(self) -> None:
        if self.replay is not None:
            self.replay.toggle()
            self._replayed()

    def action_replay_step(self, by: int) -> None:
        if self.replay is not None:
            self.replay.step(by)
            self._replayed()

    def action_replay_jump(self) -> None:
        if self.replay is not None:
            self.replay.next_problem()
            self._replayed()

    def _replayed(self) -> None:
        self.snapshot = None  # the moment changed: every part of the screen shows the new one
        self._apply(self.monitor.snapshot())

    def action_restart_broker(self) -> None:
        if self.recover is None or self._recovering:
            return
        self._recovering = True
        self.notify("restarting the embedded broker and the app…", timeout=4)
        self._restart_broker()

    @work(thread=True, group="recover", name="recover")  # never exclusive: it would cancel the snapshots
    def _restart_broker(self) -> None:
        assert self.recover is not None
        try:
            line = self.recover()
        except Exception as exc:  # said on screen and in the log; the screen keeps watching
            self.call_from_thread(
                self.notify, f"restart failed: {one_line(exc)}", severity="error", timeout=8
            )
        else:
            self.call_from_thread(self.notify, line.removeprefix("genmon: "), timeout=6)
        finally:
            self._recovering = False
            self.call_from_thread(self.refresh_bindings)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen) and self.snapshot is not None:
            keys = [NAVIGATION] + [(b.key_display or b.key, b.tooltip) for b in self.BINDINGS if b.tooltip]  # type: ignore[union-attr]
            snap = self.snapshot
            self.push_screen(HelpScreen(keys, self.descriptions, snap.settle_seconds, snap.log_path))


def status_line(snap: Snapshot) -> str:
    """The line under the header: what is wrong now (crash, stall, broker, memory), else the basics."""
    if snap.app_state == AppState.CRASHED:
        return f"[b red]app crashed:[/] {snap.error or '?'} ─ log {snap.log_path}"
    if snap.stalls.ongoing:
        return f"[b red]Faust's event loop is stalled: {snap.stalls.ongoing:.1f}s so far[/]"
    if not snap.broker.up:
        since = snap.broker.outages[-1].window() if snap.broker.outages else ""
        return (
            f"[b red]broker {snap.broker.url} is {snap.broker.condition} {since}[/] ─ values waiting for "
            f"it are put on the broker ─ log {snap.log_path}"
        )
    if snap.broker.memory_high:
        return (
            f"[b yellow]the embedded broker holds {megabytes(snap.broker.memory_bytes or 0)}: it keeps "
            "every record in memory; for long runs use a real Kafka (--broker)[/] ─ ? for help"
        )
    stalled = (
        f"[b yellow]loop stalls: {snap.stalls.count}, longest {snap.stalls.longest:.2f}s "
        f"at {snap.stalls.longest_at}[/] ─ "
        if snap.stalls.count
        else ""
    )
    return (
        f"{stalled}app {snap.app_state} ─ settle {snap.settle_seconds:g}s ─ ? for help ─ log {snap.log_path}"
    )
