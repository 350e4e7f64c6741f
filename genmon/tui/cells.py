"""How one pipeline becomes the cells of its row: text and colour, nothing Textual-specific."""

from __future__ import annotations

from rich.text import Text

from genmon.model import STAGES, PipelineSnapshot, flow, switch_symbol

# The flow comes last: at 120 columns the counts and the verdict must always be visible,
# a long flow may be cut (the detail panel's title repeats it).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("on", "on"),
    ("pipeline", "pipeline"),
    *((stage, stage) for stage in STAGES),
    ("verdict", "verdict"),
    ("flow", "flow"),
)


def _switch(pipe: PipelineSnapshot) -> Text:
    symbol = switch_symbol(pipe)
    return Text(symbol, style="bold green" if symbol == "●" else "dim")


def row_cells(pipe: PipelineSnapshot) -> dict[str, object]:
    """Column key -> renderable for one row."""
    lost_stage = pipe.verdict.lost_at
    cells: dict[str, object] = {
        "on": _switch(pipe),
        "pipeline": pipe.name,
        "flow": flow(pipe),
    }
    for stage in STAGES:
        style = "bold white on red" if stage == lost_stage else ""
        cells[stage] = Text(f"{pipe.counts[stage]:,}", style=style, justify="right")
    cells["verdict"] = Text(pipe.verdict.text, style=pipe.verdict.state.style)
    return cells
