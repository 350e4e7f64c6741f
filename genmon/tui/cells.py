"""How one pipeline becomes the cells of its row: text and colour, nothing Textual-specific."""

from __future__ import annotations

from rich.text import Text

from genmon.model import STAGES, PipelineSnapshot, short_name

# The flow comes last: at 120 columns the counts and the verdict must always be visible,
# a long flow may be cut (the detail panel's title repeats it).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("on", "on"),
    ("pipeline", "pipeline"),
    *((stage, stage) for stage in STAGES),
    ("verdict", "verdict"),
    ("flow", "flow"),
)

VERDICT_STYLE = {
    "ok": "green",
    "in_flight": "yellow",
    "paused": "dim",
    "lost": "bold red",
    "crashed": "bold red",
    "idle": "dim",
}


def flow(pipe: PipelineSnapshot) -> str:
    """generator → topic → agent, drawn broken (─✗) where nothing connects."""
    if pipe.kind == "topic":
        return f"? → {pipe.topics[0]} → {', '.join(pipe.agents) or '…'}"
    gen = pipe.name if pipe.kind == "sender" else short_name(pipe.generator)
    v = pipe.verdict
    if not pipe.topics:
        broken = v.state == "lost" or (pipe.counts.yielded and pipe.counts.sent == 0 and not pipe.on)
        return f"{gen} ─✗" if broken else f"{gen} → …"
    topics = ", ".join(pipe.topics)
    if not pipe.agents:
        broken = v.state == "lost" and v.stage in ("received", "processed")
        return f"{gen} → {topics} ─✗" if broken else f"{gen} → {topics} → …"
    return f"{gen} → {topics} → {', '.join(pipe.agents)}"


def _switch(pipe: PipelineSnapshot) -> Text:
    if pipe.kind in ("sender", "topic"):
        return Text("·", style="dim")  # not a tracked generator: nothing to switch
    return Text("●", style="bold green") if pipe.on else Text("○", style="dim")


def row_cells(pipe: PipelineSnapshot) -> dict[str, object]:
    """Column key -> renderable for one row."""
    lost_stage = pipe.verdict.stage if pipe.verdict.state == "lost" else None
    cells: dict[str, object] = {
        "on": _switch(pipe),
        "pipeline": pipe.name,
        "flow": flow(pipe),
    }
    for stage in STAGES:
        style = "bold white on red" if stage == lost_stage else ""
        cells[stage] = Text(f"{pipe.counts[stage]:,}", style=style, justify="right")
    cells["verdict"] = Text(pipe.verdict.text, style=VERDICT_STYLE.get(pipe.verdict.state, ""))
    return cells
