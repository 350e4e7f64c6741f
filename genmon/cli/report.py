"""The headless report: a Snapshot as a Rich table (or JSON), for terminals without the TUI and CI logs."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table
from rich.text import Text

from genmon.model import STAGES, Snapshot, count_text, flow, header_line, switch_symbol

WIDE = 1000
"""Columns of the report when it goes to a file or a pipe: wide enough for any row, unwrapped."""


def as_json(snapshot: Snapshot) -> str:
    return json.dumps(snapshot.to_dict(), indent=2)


def as_table(snapshot: Snapshot, full: bool = False) -> Table:
    """The snapshot as a table; ``full``: never cut a cell (a file or a pipe, not a terminal)."""
    table = Table(title=f"genmon ─ {header_line(snapshot)}", title_justify="left")
    table.add_column("on", min_width=2, no_wrap=True)
    table.add_column("pipeline", no_wrap=True)
    table.add_column("flow", no_wrap=True)
    for stage in STAGES:
        table.add_column(stage, justify="right", no_wrap=True, min_width=len(stage))
    table.add_column("verdict", no_wrap=True, max_width=None if full else 48, overflow="ellipsis")
    for pipe in snapshot.pipelines:
        lost = pipe.verdict.lost_at
        table.add_row(
            switch_symbol(pipe),
            pipe.name,
            flow(pipe, full=full),
            *(Text(count_text(pipe, stage), style="bold red" if stage == lost else "") for stage in STAGES),
            Text(pipe.verdict.text, style=pipe.verdict.state.style),
        )
    return table


def explanations(snapshot: Snapshot) -> list[Text]:
    """One "why" line per pipeline that lost values, crashed or stalled."""
    lines = []
    for pipe in snapshot.pipelines:
        if pipe.verdict.state.problem or pipe.stalls or pipe.loop_stalls:
            why = snapshot.diagnose(pipe).why
            lines.append(Text.assemble((f"{pipe.name}: ", "bold"), why))
    return lines


def print_report(snapshot: Snapshot, json_output: bool, console: Console | None = None) -> None:
    if json_output:
        print(as_json(snapshot))
        return
    if console is None:
        console = Console()
        if not console.is_terminal:
            console = Console(width=WIDE)  # a log file or pipe: never wrap or cut anything
    console.print(as_table(snapshot, full=not console.is_terminal))
    for line in explanations(snapshot):
        console.print(line)
    if snapshot.log_path:
        console.print(f"log: {snapshot.log_path}", highlight=False)
