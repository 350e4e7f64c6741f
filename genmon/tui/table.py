"""The pipelines table: a line-API widget that draws only the rows on screen, each from a cache.

Why not Textual's ``DataTable``: it renders every visible cell through Rich whenever any cell
changes, and on a screen whose counts all move five times a second that would be most of the
screen's CPU (docs/ARCHITECTURE.md, "The screen's work follows what is visible"). Here a row is a dict
of plain :class:`~genmon.tui.cells.Cell` values; a visible row becomes one :class:`Strip` of
segments when its cells change and is served from a cache otherwise; a refresh repaints only the
lines whose rows changed; a row out of view costs nothing until it scrolls in. Column widths are
set when rows come or go, widened when a value outgrows them, never measured per update. With
several apps, each app's rows sit under a header row that ``enter`` folds and opens. Which rows,
in which order: :mod:`genmon.model.view`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from genmon.model import PipelineSnapshot, Snapshot
from genmon.model.view import Group, View, arrange, grouped, ordered
from genmon.tui.cells import COLUMNS, DROP_ORDER, FLOW_MIN, Cell, row_cells, widths
from genmon.tui.messages import RowChosen, RowHighlighted

GROUP = "\x00group:"
"""Row keys of group header rows (no pipeline name starts with a NUL)."""

RIGHT_LABELS = frozenset(key for key, _ in COLUMNS[2:-2])
"""Columns of counts: their labels sit right, over the numbers."""

_LABELS = dict(COLUMNS)
BLANK = Cell("")


def _group_cells(group: Group) -> dict[str, Cell]:
    arrow = "▸" if group.collapsed else "▾"
    shown = f"{len(group.rows)} of {group.total}" if len(group.rows) != group.total else f"{group.total}"
    word = "row" if group.total == 1 else "rows"
    return {
        "pipeline": Cell(f"{arrow} {group.app_id}", "bold"),
        "verdict": Cell(f"{shown} {word}: {group.counts}", "bold"),
    }


VERDICT_MIN = 12
"""The verdict column is never cut narrower than this (the screen scrolls sideways then)."""


def fit(text: str, width: int, right: bool = False) -> str:
    """``text`` in exactly ``width`` cells: padded on the side away from ``right``, cut with ``…``."""
    length = cell_len(text)
    if length > width:
        return set_cell_size(text, width - 1) + "…" if width > 1 else set_cell_size(text, width)
    pad = " " * (width - length)
    return pad + text if right else text + pad


NAVIGATION = (
    "↑ ↓ pgup pgdn home end",
    "move the highlight (the table scrolls with it); a click highlights a row, a second click opens it",
)
"""The table's own keys, as the help screen lists them."""


class PipelineTable(ScrollView, can_focus=True):
    """Rows of pipelines (and app header rows) with a row cursor; the column labels stay on top."""

    COMPONENT_CLASSES = {
        "pipeline-table--header",
        "pipeline-table--cursor",
        "pipeline-table--even-row",
    }
    BINDINGS = [
        Binding("enter", "choose", "details", show=False),
        Binding("up", "cursor_up", "up", show=False),
        Binding("down", "cursor_down", "down", show=False),
        Binding("pageup", "page_up", "page up", show=False),
        Binding("pagedown", "page_down", "page down", show=False),
        Binding("home,ctrl+home", "first", "first row", show=False),
        Binding("end,ctrl+end", "last", "last row", show=False),
    ]

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.view = View()
        self.matching = 0
        """Pipeline rows the view keeps (the border title says "12 of 200")."""
        self.groups: dict[str, Group] = {}
        self._order: list[str] = []
        self._latest: dict[str, PipelineSnapshot | Group] = {}
        """row key -> the newest pipeline (or group) for it; its cells are made when it is drawn"""
        self._made: dict[str, tuple[PipelineSnapshot | Group, dict[str, Cell]]] = {}
        """row key -> the item its cells were last made from, and those cells"""
        self._strips: dict[str, tuple[object, Strip]] = {}
        """row key -> (what it was drawn from, the line): a row is drawn again only when that changes"""
        self._cursor = 0
        self.chosen = False
        """The user moved the highlight: it then follows its row wherever the row sorts; until
        then it stays on the first row (problems sort first: the first "why" explains one)."""
        self._widths: dict[str, int] = {}
        self._shown: list[str] = [key for key, _ in COLUMNS]
        self._spans: list[int] = []
        """the width of each shown column (the flow's cut to what is left)"""
        self._layout = 0
        """bumped when the columns change: every cached line is stale"""
        self._palettes: dict[tuple[object, ...], _Palette] = {}
        self._longest_flow = 0
        """the longest flow of a row drawn (a flow grows when a topic or agent becomes known)"""

    # -- what is highlighted ------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def cursor_row(self) -> int:
        return self._cursor

    @property
    def highlighted_key(self) -> str | None:
        return self._order[self._cursor] if self._order else None

    @property
    def highlighted_pipeline(self) -> str | None:
        key = self.highlighted_key
        return None if key is None or key.startswith(GROUP) else key

    @property
    def highlighted_group(self) -> str | None:
        key = self.highlighted_key
        return key.removeprefix(GROUP) if key is not None and key.startswith(GROUP) else None

    def get_row_at(self, index: int) -> list[Cell]:
        """The cells of the row at ``index``, in the order of the columns shown."""
        cells = self._cells(self._order[index])
        return [cells.get(key, BLANK) for key in self._shown]

    # -- the cursor -----------------------------------------------------------------------------
    def move_cursor(self, *, row: int, animate: bool = False) -> None:
        """Highlight row ``row`` (clamped) and scroll it into view."""
        if not self._order:
            return
        row = max(0, min(row, len(self._order) - 1))
        self.chosen = True
        before = self._cursor
        self._cursor = row
        self._scroll_to_cursor(animate)
        if row != before:
            self._refresh_rows(before, row)
            self.post_message(RowHighlighted(self.highlighted_key))

    def _scroll_to_cursor(self, animate: bool = False) -> None:
        rows = max(self.scrollable_content_region.height - 1, 1)  # under the column labels
        top = int(self.scroll_y)
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=animate, immediate=not animate)
        elif self._cursor >= top + rows:
            self.scroll_to(y=self._cursor - rows + 1, animate=animate, immediate=not animate)

    def _page(self) -> int:
        return max(self.scrollable_content_region.height - 2, 1)

    def action_cursor_up(self) -> None:
        self.move_cursor(row=self._cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(row=self._cursor + 1)

    def action_page_up(self) -> None:
        self.move_cursor(row=self._cursor - self._page())

    def action_page_down(self) -> None:
        self.move_cursor(row=self._cursor + self._page())

    def action_first(self) -> None:
        self.move_cursor(row=0)

    def action_last(self) -> None:
        self.move_cursor(row=len(self._order) - 1)

    def action_choose(self) -> None:
        key = self.highlighted_key
        if key is not None:
            self.post_message(RowChosen(key))

    def on_click(self, event: events.Click) -> None:
        """A click highlights a row; a click on the highlighted row chooses it (as enter does)."""
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return  # the column labels
        index = int(self.scroll_y) + offset.y - 1
        if index >= len(self._order):
            return
        event.stop()
        if index == self._cursor:
            self.action_choose()
        else:
            self.move_cursor(row=index)

    # -- applying a snapshot --------------------------------------------------------------------
    def show(self, snapshot: Snapshot, rates: Mapping[str, float] | None = None) -> None:
        """Rows in the view's order; of the visible rows only those whose cells changed are redrawn."""
        groups = arrange(snapshot.pipelines, self.view, rates)
        order: list[str] = []
        latest: dict[str, PipelineSnapshot | Group] = {}
        headed = grouped(groups)
        if headed:
            for group in groups:
                order.append(GROUP + group.app_id)
                latest[order[-1]] = group
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
        came_or_went = set(order) != set(self._order)
        self._latest = latest
        self._size_columns(list(snapshot.pipelines), groups if headed else [], came_or_went)
        if order != self._order:
            self._rearrange(order, came_or_went)
        else:
            self._refresh_changed()
        if self._longest_flow > self._widths["flow"]:  # a drawn row's flow grew (a topic became known)
            self._set_columns({**self._widths, "flow": self._longest_flow})

    def _size_columns(
        self, pipes: list[PipelineSnapshot], headers: Sequence[Group], came_or_went: bool
    ) -> None:
        """Widen a column when a value outgrew it (never narrow one while rows stay the same);
        ``headers``: the groups that have header rows (none when rows are not grouped)."""
        # every flow is measured when rows come or go; between, the rows drawn widen it (``_cells``)
        flow_width = None if came_or_went or not self._widths else self._widths["flow"]
        needed = widths(pipes, flow_width)
        if headers:  # a header row's summary sits in the verdict column
            summaries = (len(_group_cells(g)["verdict"].text) for g in headers)
            needed["verdict"] = max(needed["verdict"], *summaries)
        # fitted again on every refresh (a scrollbar that came or went changes the room): no-op mostly
        self._set_columns({key: max(needed[key], self._widths.get(key, 0)) for key in needed})

    def _set_columns(self, sizes: dict[str, int]) -> None:
        self._widths = sizes
        shown, flow_width = self._fit(sizes)
        spans = [flow_width if key == "flow" else sizes[key] for key in shown]
        over = sum(span + 2 for span in spans) - self._room()
        if over > 0 and "verdict" in shown:  # the last column, cut with "…" by fit(), not by the border
            at = shown.index("verdict")
            spans[at] = max(VERDICT_MIN, spans[at] - over)
        if (shown, spans) == (self._shown, self._spans):
            return
        self._shown, self._spans = shown, spans
        self._layout += 1
        self.virtual_size = Size(sum(span + 2 for span in spans), len(self._order) + 1)
        self.refresh()

    def _room(self) -> int:
        return self.scrollable_content_region.width or self.app.size.width - 4  # 4: borders, scrollbar

    def _fit(self, sizes: dict[str, int]) -> tuple[list[str], int]:
        """The columns that fit the table's width and the flow's width there: the flow takes what is
        left (cut at the end, whole in the detail panel's title); below ``FLOW_MIN`` it is dropped,
        then acked: at 80 columns the counts and verdict matter more than the flow."""
        room = self._room()
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

    def on_resize(self) -> None:
        if self._widths:
            self._set_columns(self._widths)

    def _rearrange(self, order: list[str], came_or_went: bool) -> None:
        """New rows or a new order: the highlighted row stays highlighted wherever it went (when
        it went away, the first row is)."""
        keep = self.highlighted_key
        self._order = order
        for cache in (self._strips, self._made):
            for key in [key for key in cache if key not in self._latest]:
                del cache[key]
        if came_or_went:
            self.virtual_size = Size(self.virtual_size.width, len(order) + 1)
            self.refresh(layout=True)
        self._cursor = order.index(keep) if self.chosen and keep in self._latest else 0
        self._scroll_to_cursor()
        self.refresh()
        if self.highlighted_key != keep:
            self.post_message(RowHighlighted(self.highlighted_key))

    def _visible(self) -> range:
        top = int(self.scroll_y)
        rows = max(self.scrollable_content_region.height - 1, 1)
        return range(top, min(top + rows, len(self._order)))

    def _refresh_changed(self) -> None:
        """Repaint the lines of visible rows whose cells changed (the others keep their lines)."""
        for index in self._visible():
            before = self._made.get(key := self._order[index])
            if before is None or self._cells(key) is not before[1]:  # equal cells keep their object
                self._refresh_rows(index)

    def _refresh_rows(self, *indexes: int) -> None:
        for index in indexes:
            self.refresh_line(index + 1)  # row i is drawn on line i + 1: the labels are on top

    # -- drawing --------------------------------------------------------------------------------
    def _cells(self, key: str) -> dict[str, Cell]:
        item = self._latest[key]
        made = self._made.get(key)
        if made is not None and made[0] is item:
            return made[1]
        cells = _group_cells(item) if isinstance(item, Group) else row_cells(item)
        if "flow" in cells:
            self._longest_flow = max(self._longest_flow, len(cells["flow"].text))
        if made is not None and made[1] == cells:
            cells = made[1]  # the same cells: keep the object the cached line was drawn from
        self._made[key] = (item, cells)
        return cells

    def _palette(self, kind: str) -> _Palette:
        """The styles of a row of ``kind`` with the widget's style and focus as they are now."""
        base, focus = self.rich_style, self.has_focus
        key = (base, focus, kind)
        palette = self._palettes.get(key)
        if palette is None:
            if len(self._palettes) > 64:
                self._palettes.clear()
            row = (
                Style() if kind == "odd" else self.get_component_styles(f"pipeline-table--{kind}").rich_style
            )
            palette = self._palettes[key] = _Palette(base, row, cursor=kind == "cursor")
        return palette

    def _line(self, cells: Mapping[str, Cell], palette: _Palette) -> Strip:
        pad = Segment(" ", palette[""])
        segments: list[Segment] = []
        for key, span in zip(self._shown, self._spans, strict=True):
            cell = cells.get(key, BLANK)
            segments += (pad, Segment(fit(cell.text, span, cell.right), palette[cell.style]), pad)
        return Strip(segments, sum(span + 2 for span in self._spans))

    def _header(self) -> Strip:
        labels = {key: Cell(_LABELS[key], right=key in RIGHT_LABELS) for key in self._shown}
        return self._line(labels, self._palette("header"))

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        if y == 0:
            palette = self._palette("header")
            line = self._header()
        else:
            index = scroll_y + y - 1
            if index >= len(self._order):
                return Strip.blank(width, self.rich_style)
            palette = self._palette(
                "cursor" if index == self._cursor else "even-row" if index % 2 == 0 else "odd"
            )
            line = self._row_line(index, palette)
        return line.crop_extend(scroll_x, scroll_x + width, palette[""])  # the row's colour to the border

    def _row_line(self, index: int, palette: _Palette) -> Strip:
        key = self._order[index]
        cells = self._cells(key)
        stamp = (cells, palette, self._layout)
        cached = self._strips.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        line = self._line(cells, palette)
        self._strips[key] = (stamp, line)
        return line


class _Palette(dict[str, Style]):
    """Cell style strings -> the Rich styles they get on one kind of row (a handful in all)."""

    def __init__(self, base: Style, row: Style, cursor: bool) -> None:
        super().__init__()
        self.base, self.row, self.cursor = base, row, cursor

    def __missing__(self, cell_style: str) -> Style:
        style = self.base + self.row + Style.parse(cell_style) if cell_style else self.base + self.row
        if self.cursor and self.row.color is not None:  # the cursor's text colour wins; a cell's
            style += Style(color=self.row.color)  # background stays: a lost stage stays red there
        self[cell_style] = style
        return style
