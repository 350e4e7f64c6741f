"""How one pipeline becomes the cells of its row: text and colour, nothing Textual-specific."""

from __future__ import annotations

from dataclasses import dataclass

from genmon.model import STAGES, PipelineSnapshot, count_text, flow, switch_symbol


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell as shown: its words, a Rich style string and which side it sits on.

    Plain values (compared with ``==``, hashed) rather than Rich renderables: the table turns a row
    of them into one line of segments itself, and redraws a row only when a cell differs."""

    text: str
    style: str = ""
    right: bool = False

    def __str__(self) -> str:
        return self.text


# The flow comes last: at 120 columns the counts and the verdict must always be visible,
# a long flow may be cut (the detail panel's title repeats it).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("on", "on"),
    ("pipeline", "pipeline"),
    *((stage, stage) for stage in STAGES),
    ("verdict", "verdict"),
    ("flow", "flow"),
)


FLOW_MIN = 16
"""Narrower than this, the flow column is dropped rather than cut to nothing."""
DROP_ORDER: tuple[str, ...] = ("flow", "acked")
"""When the terminal is too narrow for every column (80 columns), these go first, in this order: the
flow is repeated in the detail panel's title, and acked is nearly always equal to sent."""

NAME_WIDTH = (8, 28)
"""The pipeline column: as wide as the longest name, within these bounds (a longer name is cut)."""


def widths(pipes: list[PipelineSnapshot], flow_width: int | None = None) -> dict[str, int]:
    """Every column's width for these rows, from string lengths only (cheap: no cell is measured).

    The table sets them when its rows change and widens a column when a value outgrows it, never per
    update: measuring every cell of every row on each refresh is what made a screen of hundreds of
    rows slow."""
    longest = max((len(pipe.name) for pipe in pipes), default=0)
    sizes = {
        "on": 2,
        "pipeline": min(max(longest, NAME_WIDTH[0]), NAME_WIDTH[1]),
        "verdict": max((len(pipe.verdict.text) for pipe in pipes), default=7),
        "flow": flow_width if flow_width is not None else max((len(flow(pipe)) for pipe in pipes), default=4),
    }
    for stage in STAGES:
        sizes[stage] = len(f"{max((pipe.counts[stage] for pipe in pipes), default=0):,}")
    return {key: max(sizes[key], len(label)) for key, label in COLUMNS}


def _switch(pipe: PipelineSnapshot) -> Cell:
    symbol = switch_symbol(pipe)
    return Cell(symbol, "bold green" if symbol == "●" else "dim")


def row_cells(pipe: PipelineSnapshot) -> dict[str, Cell]:
    """Column key -> cell for one row."""
    lost_stage = pipe.verdict.lost_at
    cells: dict[str, Cell] = {
        "on": _switch(pipe),
        "pipeline": Cell(pipe.name),
        "flow": Cell(flow(pipe)),
    }
    for stage in STAGES:
        style = "bold white on red" if stage == lost_stage else ""
        cells[stage] = Cell(count_text(pipe, stage), style, right=True)
    cells["verdict"] = Cell(pipe.verdict.text, str(pipe.verdict.state.style))
    return cells
