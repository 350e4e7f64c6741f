"""The detail screen (enter or d on a row): everything genmon knows about one pipeline."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Static

from genmon.model import STAGES, PipelineSnapshot, Refused, RowKind, Snapshot, Stage, flow
from genmon.model.path import ValuePath
from genmon.tui.detail_panel import Explanation, RateHistory, Rates


def stages_table(pipe: PipelineSnapshot) -> Table:
    """Per stage: how many values, which ids stopped just before it, duplicates."""
    table = Table(box=None, expand=True, pad_edge=False)
    table.add_column("stage")
    table.add_column("values", justify="right")
    table.add_column("ids missing here", ratio=1)
    table.add_column("dups", justify="right")
    lost_stage = pipe.verdict.lost_at
    for stage in STAGES:
        ids = pipe.missing.get(stage)
        style = "bold red" if stage == lost_stage else ""
        table.add_row(
            Text(stage, style=style),
            f"{pipe.counts[stage]:,}",
            Text(f"{ids.count:,}: {ids.text()}", style=style or "yellow") if ids else Text("-", style="dim"),
            str(pipe.duplicates.get(stage, 0)) if stage != Stage.YIELDED else "",
        )
    for cause, ids in pipe.damaged.items():
        table.add_row(Text(cause.words, style="bold red"), f"{ids.count:,}", ids.text(), "")
    return table


def path_text(path: ValuePath) -> Text:
    """The answer to "where is value N?": one line per row it reached, the step where it stopped in
    the error colour."""
    text = Text()
    text.append(f"where is {path.row} #{path.id}?", style="bold")
    text.append("  (/ asks again: the answer is of the moment it was asked)\n", style="dim")
    for index, step in enumerate(path.steps):
        text.append("  " * min(index, 1) + ("→ " if index else ""), style="dim")
        text.append(step.line() + "\n", style="" if step.ok else "bold red")
    if path.note:
        text.append(f"({path.note})\n", style="dim")
    return text


def facts(pipe: PipelineSnapshot) -> Text:
    lat = pipe.latency_ms
    text = Text()
    text.append("latency yield → processed: ", style="bold")
    if pipe.kind == RowKind.TOPIC:
        text.append(
            f"not measured: values from senders genmon does not follow carry no yield time "
            f"({pipe.counts.processed:,} processed)",
            style="dim",
        )
    elif lat:
        text.append(
            f"p50 {lat['p50']:.1f} ms · p95 {lat['p95']:.1f} ms · p99 {lat['p99']:.1f} ms · "
            f"max {lat['max']:.1f} ms ({int(lat['count']):,} values)"
        )
    else:
        text.append("no value processed yet", style="dim")
    text.append("\nreorders: ", style="bold")
    text.append(f"{pipe.reorders}")
    text.append("   stalls: ", style="bold")
    text.append(
        f"{pipe.stalls} by the generator (longest {pipe.longest_stall:.2f}s), "
        f"{pipe.loop_stalls} of its app's loop"
    )
    text.append("   app: ", style="bold")
    text.append(pipe.app_id)
    for o in pipe.offsets:
        text.append("\nbroker: ", style="bold")
        text.append(f"{o.topic} ({o.partitions} partitions): {o.on_topic:,} on topic")
        if o.group is None:
            text.append(" · no consumer group reads it", style="bold red")
        else:
            text.append(f" · group {o.group} committed {o.committed:,} · lag {o.lag:,}")
    return text


class DetailScreen(ModalScreen[None]):
    """Refreshed with every snapshot while open; escape, enter, d or q closes it; / asks where one
    value went (its path, hop by hop: :mod:`genmon.model.path`)."""

    BINDINGS = [
        Binding("escape,enter,d,q", "close", "close", key_display="esc"),
        Binding("slash", "where", "where is value…", key_display="/"),
    ]

    def __init__(self, name: str) -> None:
        super().__init__()
        self.pipeline_name = name

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail-body"):
            yield Static(id="detail-title")
            yield Static(id="detail-path")
            with Horizontal(id="detail-top"):
                yield Rates(id="detail-rates")
                yield Static(id="detail-stages")
            yield Static(id="detail-facts")
            yield Explanation(id="detail-why")
        yield Input(
            id="path-ask", placeholder="where is value …? one of this row's ids (enter asks, escape closes)"
        )
        yield Footer()  # its own keys: the main screen's do nothing here

    def show(self, snapshot: Snapshot, history: RateHistory) -> None:
        try:
            pipe = snapshot.pipeline(self.pipeline_name)
        except KeyError:
            return
        body = self.query_one("#detail-body")
        body.border_title = f"{pipe.name}: {flow(pipe)}"
        title = Text.assemble(("verdict: ", "bold"), (pipe.verdict.text, pipe.verdict.state.style))
        if not pipe.kind.switchable:
            title.append(f"   {pipe.kind}: not a tracked generator, nothing to switch")
        else:
            title.append(f"   generator {'on' if pipe.on else 'off'} · {pipe.kind}")
        self.query_one("#detail-title", Static).update(title)
        self.query_one(Rates).show(pipe, history)
        self.query_one("#detail-stages", Static).update(stages_table(pipe))
        self.query_one("#detail-facts", Static).update(facts(pipe))
        self.query_one(Explanation).show(pipe, snapshot)

    def action_close(self) -> None:
        ask = self.query_one("#path-ask", Input)
        if ask.has_focus:  # escape leaves the question, not the screen
            ask.remove_class("shown")
            self.set_focus(None)
            return
        self.dismiss(None)

    def action_where(self) -> None:
        ask = self.query_one("#path-ask", Input)
        ask.add_class("shown")
        ask.focus()

    @on(Input.Submitted, "#path-ask")
    def _ask(self, event: Input.Submitted) -> None:
        answer = self.query_one("#detail-path", Static)
        answer.add_class("shown")
        self.query_one("#detail-body").scroll_home(animate=False)
        typed = event.value.strip().lstrip("#")
        if not typed.isdigit():
            answer.update(
                Text(f"an id is a whole number (this row's values are numbered from 1): {typed!r}", "yellow")
            )
            return
        monitor = getattr(self.app, "monitor", None)
        try:
            path = monitor.path(self.pipeline_name, int(typed)) if monitor is not None else None
        except Refused as refused:
            answer.update(Text(str(refused), "yellow"))
            return
        if path is None:
            answer.update(Text("this screen has no monitor to ask", "yellow"))
            return
        answer.update(path_text(path))
        ask = self.query_one("#path-ask", Input)
        ask.value = ""
        ask.remove_class("shown")
        self.set_focus(None)
