"""The pipelines table: one row per pipeline, cells redrawn only when they changed.

Column widths are set when the rows change (a pipeline appears), never measured per update: the
cost of a refresh is the cells that changed, not every cell of every row."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from genmon.model import Snapshot
from genmon.tui.cells import COLUMNS, row_cells, widths


def _same(a: object, b: object) -> bool:
    """Equality that also sees style (``rich.text.Text.__eq__`` compares only text and spans)."""
    if isinstance(a, Text) and isinstance(b, Text):
        return a.plain == b.plain and a.style == b.style and a.spans == b.spans
    return a == b


class PipelineTable(DataTable):
    """A DataTable that knows how to apply a Snapshot with the fewest repaints."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self._shown: dict[str, dict[str, object]] = {}
        self._widths: dict[str, int] = {}
        self._restore_cursor: int | None = None

    def on_mount(self) -> None:
        self._columns(widths([]))

    def _columns(self, sizes: dict[str, int]) -> None:
        self._widths = sizes
        for key, label in COLUMNS:
            self.add_column(label, key=key, width=sizes[key])

    @property
    def highlighted_pipeline(self) -> str | None:
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value

    def show(self, snapshot: Snapshot) -> None:
        """Update only the cells whose content changed; rebuild when the rows themselves changed
        (a source appeared, a listening topic got a sender), keeping the cursor on its pipeline."""
        names = [pipe.name for pipe in snapshot.pipelines]
        needed = widths(list(snapshot.pipelines))
        with self.app.batch_update():
            if names != list(self._shown):
                self._rebuild(names, needed)
            elif any(needed[key] > self._widths.get(key, 0) for key in needed):
                # a value outgrew its column: widen (grow only, so the columns do not jitter)
                self._rebuild(names, {key: max(needed[key], self._widths.get(key, 0)) for key in needed})
            for pipe in snapshot.pipelines:
                cells = row_cells(pipe)
                shown = self._shown.get(pipe.name)
                if shown is None:
                    self.add_row(*(cells[key] for key, _ in COLUMNS), key=pipe.name)
                    self._shown[pipe.name] = cells
                    continue
                for key, value in cells.items():
                    if _same(shown.get(key), value):
                        continue
                    self.update_cell(pipe.name, key, value)  # fixed widths: nothing to measure
                    shown[key] = value
        self.after_show()

    def _rebuild(self, names: list[str], sizes: dict[str, int]) -> None:
        keep = self.highlighted_pipeline
        self.clear(columns=True)
        self._columns(sizes)
        self._shown = {}
        if keep in names:
            self._restore_cursor = names.index(keep)
        else:
            self._restore_cursor = 0

    def after_show(self) -> None:
        """Put the cursor back on the pipeline it was on before a rebuild."""
        if self._restore_cursor is not None and self.row_count:
            self.move_cursor(row=min(self._restore_cursor, self.row_count - 1))
        self._restore_cursor = None
