"""The pipelines table: rows in the view's order, and per refresh only the visible rows redrawn.

Per refresh the work is proportional to what is on screen, never to all rows: column widths are
set when rows appear (never measured per update); a row that is scrolled out of view only records
its newest pipeline and is drawn when it scrolls in; a re-sort moves rows (``DataTable.sort``)
instead of rebuilding them. With several apps, each app's rows sit under a header row that
``enter`` collapses and opens. Which rows, in which order: :mod:`genmon.model.view`.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.widgets import DataTable

from genmon.model import PipelineSnapshot, Snapshot, flow
from genmon.model.view import Group, View, arrange, grouped, ordered
from genmon.tui.cells import COLUMNS, DROP_ORDER, FLOW_MIN, row_cells, widths

GROUP = "\x00group:"
"""Row keys of group header rows (no pipeline name starts with a NUL)."""


def _same(a: object, b: object) -> bool:
    """Equality that also sees style (``rich.text.Text.__eq__`` compares only text and spans)."""
    if isinstance(a, Text) and isinstance(b, Text):
        return a.plain == b.plain and a.style == b.style and a.spans == b.spans
    return a == b


def _group_cells(group: Group, columns: list[str]) -> dict[str, object]:
    arrow = "▸" if group.collapsed else "▾"
    shown = f"{len(group.rows)} of {group.total}" if len(group.rows) != group.total else f"{group.total}"
    cells: dict[str, object] = {key: "" for key in columns}
    cells["pipeline"] = Text(f"{arrow} {group.app_id}", style="bold")
    word = "row" if group.total == 1 else "rows"
    cells["verdict"] = Text(f"{shown} {word}: {group.counts}", style="bold")
    return cells


class PipelineTable(DataTable):
    """A DataTable that applies a Snapshot in the view's order with the fewest repaints.

    DataTable caches a rendered cell under a key that includes a table-wide update counter, so one
    changed cell makes every visible cell render again through Rich. Here each cell has a version of
    its own (bumped when genmon changes that cell), put in that counter's place while a cell is
    rendered: a refresh renders only the cells that changed (the lines are still assembled anew)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self._versions: dict[tuple[str, str], int] = {}
        self._row_versions: dict[str, int] = {}
        self._next_version = 0
        self._structure = 0
        self._flows: dict[str, int] | None = None
        """pipeline -> the length of its flow (computed when rows change, not per refresh)"""
        self._shown: dict[str, dict[str, object]] = {}
        """row key -> the cells on screen"""
        self._latest: dict[str, dict[str, object] | PipelineSnapshot | Group] = {}
        """row key -> the newest pipeline (or group) for it, drawn when the row is visible"""
        self._order: list[str] = []
        self._widths: dict[str, int] = {}
        self._columns_shown: list[str] = [key for key, _ in COLUMNS]
        self._fitted: tuple[list[str], int] = (self._columns_shown, 0)
        self._restore: str | None = None
        self.view = View()
        self.matching = 0
        """Pipeline rows the view keeps (the border title says "12 of 200")."""
        self.groups: dict[str, Group] = {}

    def on_mount(self) -> None:
        self._columns(widths([]))

    # -- columns ------------------------------------------------------------------------------
    def _fit(self, sizes: dict[str, int]) -> tuple[list[str], int]:
        """The columns that fit the table's width and the flow's width there: the flow takes what is
        left (cut at the end, whole in the detail panel's title); below ``FLOW_MIN`` it is dropped,
        then acked (README, "The screen")."""
        room = (self.size.width or self.app.size.width) - 4  # borders and the scrollbar
        keep = [key for key, _ in COLUMNS]
        for dropped in (None, *DROP_ORDER):
            if dropped is not None:
                keep.remove(dropped)
            used = sum(sizes[k] + 2 for k in keep if k != "flow")  # each cell has one space a side
            if "flow" in keep:
                if room - used - 2 >= min(FLOW_MIN, sizes["flow"]):
                    return keep, min(sizes["flow"], room - used - 2)
            elif used <= room:
                return keep, 0
        return keep, 0

    def _columns(self, sizes: dict[str, int]) -> None:
        self._widths = sizes
        self._columns_shown, flow = self._fit(sizes)
        self._fitted = (self._columns_shown, flow)
        labels = dict(COLUMNS)
        for key in self._columns_shown:
            self.add_column(labels[key], key=key, width=flow if key == "flow" else sizes[key])

    def on_resize(self) -> None:
        if self._widths and self._fit(self._widths) != self._fitted:
            self._rebuild(self._widths)
            self.app.call_after_refresh(self._redraw_all)

    # -- what is highlighted ------------------------------------------------------------------
    @property
    def highlighted_key(self) -> str | None:
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value

    @property
    def highlighted_pipeline(self) -> str | None:
        key = self.highlighted_key
        return None if key is None or key.startswith(GROUP) else key

    @property
    def highlighted_group(self) -> str | None:
        key = self.highlighted_key
        return key.removeprefix(GROUP) if key is not None and key.startswith(GROUP) else None

    # -- applying a snapshot --------------------------------------------------------------------
    def show(self, snapshot: Snapshot, rates: Mapping[str, float] | None = None) -> None:
        """Rows in the view's order; only visible rows' changed cells are redrawn."""
        groups = arrange(snapshot.pipelines, self.view, rates)
        headed = grouped(groups)
        order: list[str] = []
        latest: dict[str, PipelineSnapshot | Group] = {}
        if headed:
            for group in groups:
                key = GROUP + group.app_id
                order.append(key)
                latest[key] = group
                if not group.collapsed:
                    for pipe in group.rows:
                        order.append(pipe.name)
                        latest[pipe.name] = pipe
        else:
            for pipe in ordered(groups, self.view, rates):
                order.append(pipe.name)
                latest[pipe.name] = pipe
        self.matching = sum(len(g.rows) for g in groups)
        self.groups = {g.app_id: g for g in groups}
        with self.app.batch_update():
            pipes = list(snapshot.pipelines)
            if set(order) != set(self._order) or self._flows is None:
                self._flows = {pipe.name: len(flow(pipe)) for pipe in pipes}  # only when rows change
            needed = widths(pipes, self._flows)
            if headed:  # a header row's summary sits in the verdict column
                longest = max(len(_group_cells(g, ["verdict"])["verdict"].plain) for g in groups)  # type: ignore[union-attr]
                needed["verdict"] = max(needed["verdict"], longest)
            if set(order) != set(self._order) or any(
                needed[key] > self._widths.get(key, 0) for key in needed
            ):
                # rows came or went (or a value outgrew its column: widen, never shrink)
                self._rebuild({key: max(needed[key], self._widths.get(key, 0)) for key in needed})
                self._latest = dict(latest)
                for key in order:
                    self._add(key)
                self._order = order
                self._after_rebuild()
            else:
                self._latest = dict(latest)
                if order != self._order:
                    self._reorder(order)
                self._redraw_visible()

    def _cells(self, key: str) -> dict[str, object]:
        item = self._latest[key]
        if isinstance(item, Group):
            return _group_cells(item, self._columns_shown)
        return row_cells(item)  # type: ignore[arg-type]

    def _version(self) -> int:
        self._next_version += 1
        return self._next_version

    def _add(self, key: str) -> None:
        cells = self._cells(key)
        self._row_versions[key] = self._version()
        self.add_row(*(cells[k] for k in self._columns_shown), key=key)
        self._shown[key] = cells

    def _render_cell(  # type: ignore[override]
        self,
        row_index: int,
        column_index: int,
        base_style: object,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> object:
        if row_index < 0 or column_index < 0:
            version: object = ("header", self._structure)
        else:
            row_key = self._row_locations.get_key(row_index)
            column_key = self._column_locations.get_key(column_index)
            cell = self._versions.get((row_key, column_key))  # type: ignore[call-overload]
            version = (self._structure, cell if cell is not None else self._row_versions.get(row_key, 0))  # type: ignore[call-overload]
        real = self._update_count
        self._update_count = version  # type: ignore[assignment]
        try:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)  # type: ignore[arg-type]
        finally:
            self._update_count = real

    def _reorder(self, order: list[str]) -> None:
        """Move rows to the view's order (no row is rebuilt); the highlighted row stays highlighted."""
        keep = self.highlighted_key
        place = {self._label(key): i for i, key in enumerate(order)}
        self.sort("pipeline", key=lambda cell: place.get(cell.plain if isinstance(cell, Text) else cell, 0))
        self._order = order
        if keep is not None and keep in order:
            self.move_cursor(row=order.index(keep), animate=False)

    def _label(self, key: str) -> str:
        """The plain text of a row's pipeline cell (what ``DataTable.sort`` sees of the row)."""
        cell = self._shown[key]["pipeline"]
        return cell.plain if isinstance(cell, Text) else str(cell)

    def _visible(self) -> range:
        top = int(self.scroll_y)
        height = max(self.scrollable_content_region.height, 1)
        return range(top, min(top + height + 1, len(self._order)))

    def _redraw_visible(self) -> None:
        for index in self._visible():
            self._redraw(self._order[index])

    def _redraw_all(self) -> None:
        for key in self._order:
            self._redraw(key)

    def _redraw(self, key: str) -> None:
        if key not in self._latest or key not in self._shown:
            return
        cells = self._cells(key)
        shown = self._shown.get(key)
        if shown is None:
            return
        for column, value in cells.items():
            if column not in self._columns_shown or _same(shown.get(column), value):
                continue
            self.update_cell(key, column, value)  # fixed widths: nothing to measure
            self._versions[(key, column)] = self._version()
            shown[column] = value

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if int(old) != int(new) and self._order:
            self._redraw_visible()  # rows scrolled in show their newest values

    def _rebuild(self, sizes: dict[str, int]) -> None:
        self._restore = self.highlighted_key
        self._structure += 1
        self._versions, self._row_versions = {}, {}
        self._shown, self._order = {}, []  # before clear(): its scroll reset redraws visible rows
        self.clear(columns=True)
        self._columns(sizes)

    def _after_rebuild(self) -> None:
        """Put the cursor back on the row it was on before a rebuild (else on the first)."""
        if self.row_count:
            row = self._order.index(self._restore) if self._restore in self._order else 0
            self.move_cursor(row=row, animate=False)
        self._restore = None
