"""The workers panel: the processes a snapshot was merged from, one row each.

Per worker its ``host:pid``, whether it is alive (reporting), gone (silent without a goodbye) or
stopped (said goodbye), its uptime, the age of its last report, its share of the fleet's values at
each stage and its loop stalls: where the work happens, and which worker's silence to distrust.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from genmon.model import Snapshot, Stage
from genmon.model.snapshot import WorkerStatus

COLUMNS = (
    "worker",
    "process",
    "state",
    "uptime",
    "report age",
    "sent",
    "received",
    "processed",
    "loop stalls",
)
SHARES = (Stage.SENT, Stage.RECEIVED, Stage.PROCESSED)


def _state(w: WorkerStatus) -> Text:
    if w.alive:
        return Text("alive", style="green")
    if w.final:
        return Text("stopped", style="dim")
    return Text("gone", style="bold magenta")


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class WorkersTable(DataTable[object]):
    """One row per worker. Cells are updated in place (the report ages change on every refresh);
    the rows are rebuilt only when workers come or go: rebuilding lays the whole screen out again."""

    def on_mount(self) -> None:
        self.cursor_type = "none"
        self.zebra_stripes = True
        self._shown: dict[str, tuple[object, ...]] = {}
        for name in COLUMNS:
            self.add_column(name, key=name)

    def show(self, snap: Snapshot) -> None:
        title = f"workers ({sum(1 for w in snap.workers if w.alive)} alive)"
        if title != self.border_title:
            self.border_title = title
        rows = {w.label: _cells(w) for w in snap.workers}
        if list(rows) != list(self._shown):
            self.clear()
            for key, cells in rows.items():
                self.add_row(*cells, key=key)
        else:
            for key, cells in rows.items():
                for column, old, new in zip(COLUMNS, self._shown[key], cells, strict=True):
                    if str(old) != str(new) or _style(old) != _style(new):
                        # a wider value widens its column (a report age past 9.9 s); else no layout
                        self.update_cell(key, column, new, update_width=len(str(new)) > len(str(old)))
        self._shown = rows


def _style(cell: object) -> object:
    return cell.style if isinstance(cell, Text) else None


def _cells(w: WorkerStatus) -> tuple[object, ...]:
    return (
        w.label,
        w.name,
        _state(w),
        _duration(w.uptime),
        f"{w.age:.1f}s",
        *(Text(str(w.shares.get(stage, 0)), justify="right") for stage in SHARES),
        f"{w.stalls.count}" + (f" (longest {w.stalls.longest:.2f}s)" if w.stalls.count else ""),
    )
