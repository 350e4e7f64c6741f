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
    """Rows rebuilt per snapshot: a fleet has a handful of workers, not hundreds."""

    def on_mount(self) -> None:
        self.cursor_type = "none"
        self.zebra_stripes = True
        for name in COLUMNS:
            self.add_column(name, key=name)

    def show(self, snap: Snapshot) -> None:
        self.border_title = f"workers ({sum(1 for w in snap.workers if w.alive)} alive)"
        self.clear()
        for w in snap.workers:
            self.add_row(
                w.label,
                w.name,
                _state(w),
                _duration(w.uptime),
                f"{w.age:.1f}s",
                *(Text(str(w.shares.get(stage, 0)), justify="right") for stage in SHARES),
                f"{w.stalls.count}" + (f" (longest {w.stalls.longest:.2f}s)" if w.stalls.count else ""),
                key=w.label,
            )
