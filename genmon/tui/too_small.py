"""The notice shown instead of the screen while the terminal is smaller than genmon can draw in.

Below 80x20 the table's columns are cut mid-word and the panels overlap; rather than a screen
that looks broken (and numbers a user may misread), genmon says what is wrong and how to fix it,
and comes back by itself once the terminal is large enough again."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Middle
from textual.screen import ModalScreen
from textual.widgets import Static

MIN_COLUMNS, MIN_LINES = 80, 20


def too_small(columns: int, lines: int) -> bool:
    return columns < MIN_COLUMNS or lines < MIN_LINES


class TooSmallScreen(ModalScreen[None]):
    """Covers the whole screen; ``q`` and ctrl+c still quit."""

    BINDINGS = [Binding("q", "app.quit", "quit")]

    def compose(self) -> ComposeResult:
        with Middle(), Center():
            yield Static(id="too-small-text")

    def show(self, columns: int, lines: int) -> None:
        self.query_one("#too-small-text", Static).update(
            f"[b]Enlarge the terminal[/]\n\n"
            f"genmon needs at least {MIN_COLUMNS}x{MIN_LINES}; this one is {columns}x{lines}.\n"
            "The screen comes back as soon as it fits (q quits)."
        )
