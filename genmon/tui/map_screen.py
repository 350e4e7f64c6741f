"""The map screen (``m``): the app's flow drawn as a graph — generators and sending code, topics,
agents — with the values on each edge, the edge where values die in the error colour beside its
verdict.

The graph is the model's (:func:`genmon.model.graph.graph_of`, the CI summary's Mermaid flow is
drawn from it too); netext lays it out left to right (Sugiyama layering, in its Rust core) and
draws it as a Rich renderable, shown in a scrolling Static, so the map scrolls at any terminal size
instead of being cut. A big app is folded to ``MAP_NODES`` nodes, rows with problems first, and the
title says how many rows are not drawn. Arrow keys move between nodes (left and right between
columns, up and down within one), ``enter`` opens the detail of the node's row.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Callable
from typing import Any

from netext import ArrowTip, ConsoleGraph, EdgeRoutingMode, EdgeSegmentDrawingMode
from netext.layout_engines import LayoutDirection, SugiyamaLayout
from rich.console import Console
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import ScrollableContainer
from textual.geometry import Region
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from genmon.model import Snapshot
from genmon.model.graph import RANK, Graph, Node, folded, graph_of, layers, readers_of
from genmon.model.text import plural


def shortened(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


MAP_NODES = 36
"""The most nodes drawn: past it, rows without problems are left out (a picture of hundreds of
boxes is read by nobody, and its layout would cost the screen's refresh)."""
REDRAW_SECONDS = 1.0
"""The map is laid out again at most this often while counts move (a layout is milliseconds for a
folded map, but the screen refreshes five times a second)."""
VERDICT_CHARS = 36

NODE_STYLE = {
    "source": Style(color="green"),
    "topic": Style(color="cyan"),
    "agent": Style(color="blue"),
    "nowhere": Style(color="red", dim=True),
}
STATE_STYLE = {
    "lost": Style(color="red", bold=True),
    "crashed": Style(color="red", bold=True),
    "stuck": Style(color="yellow", bold=True),
    "paused": Style(dim=True),
}
STATE_MARK = {"lost": " ✗", "crashed": " ✗ crashed", "stuck": " ⏸ stuck", "paused": " ○ paused"}


def _content(_node: str, data: dict[str, Any], style: Style) -> Text:
    return Text(data["text"], style=style)


def drawing(graph: Graph, selected: str | None) -> ConsoleGraph:
    """The graph as netext draws it: a box per node, styled by kind and state, the selected one in
    reverse; an edge per hop with its count, a dying one in red with the verdict beside it."""
    nodes: dict[Any, dict[str, Any]] = {}
    for node in graph.nodes:
        style = STATE_STYLE.get(node.state, NODE_STYLE.get(node.kind, Style()))
        text = node.label + (" (Faust's)" if node.internal else "") + STATE_MARK.get(node.state, "")
        if node.verdict:  # where values die: the verdict in the box, on a second line
            text += "\n" + shortened(node.verdict, VERDICT_CHARS)
        content = style + Style(reverse=True) if node.key == selected else style
        nodes[node.key] = {
            "text": text,
            "$content-renderer": _content,
            "$style": style,
            "$content-style": content,
        }
    edges = []
    for edge in graph.edges:
        label = edge.label.split(" ", 1)[0]  # the count alone: a label wider than its edge is cut
        edges.append(
            (
                edge.start,
                edge.end,
                {
                    "$label": label,
                    "$style": Style(color="red", bold=True) if edge.lost else Style(dim=True),
                    "$end-arrow-tip": ArrowTip.ARROW,
                    "$edge-routing-mode": EdgeRoutingMode.ORTHOGONAL,
                    "$edge-segment-drawing-mode": EdgeSegmentDrawingMode.BOX_ROUNDED,
                },
            )
        )
    return ConsoleGraph(nodes, edges, layout_engine=SugiyamaLayout(LayoutDirection.LEFT_RIGHT))


def at_full_width(drawn: ConsoleGraph) -> Text:
    """The drawing as text at its own width: netext lays a graph out to the width it is offered, and a
    Static offers the screen's, so a wide map came out cut at the edge instead of scrolling."""
    console = Console(width=MAP_WIDTH, file=io.StringIO(), color_system="truecolor", force_terminal=True)
    with console.capture() as capture:
        console.print(drawn)
    text = Text.from_ansi("\n".join(line.rstrip() for line in capture.get().splitlines()))
    text.no_wrap = True
    return text


MAP_WIDTH = 2000
"""The widest map drawn (characters): far past any terminal; the screen scrolls to the rest."""


def legend(graph: Graph, selected: str | None) -> Text:
    """Under the map: where values die, in full (a box holds the verdict's start), and the selected
    node's rows."""
    text = Text()
    for node in graph.nodes:
        if node.verdict:
            text.append("✗ ", style="bold red")
            text.append(f"{node.label}: ", style="bold")
            text.append(node.verdict + "\n")
    chosen = next((n for n in graph.nodes if n.key == selected), None)
    if chosen is not None:
        text.append(f"{chosen.kind} {chosen.label}", style="bold")
        text.append(f" · rows: {', '.join(chosen.rows)}" if chosen.rows else "", style="dim")
    return text


def reading_order(graph: Graph) -> list[list[Node]]:
    """The nodes by column (left to right), each column in the order the rows list them."""
    column = layers(graph)
    out: list[list[Node]] = [[] for _ in range(1 + max(column.values(), default=-1))]
    for node in graph.nodes:
        out[column[node.key]].append(node)
    return [nodes for nodes in out if nodes]


class MapScroll(ScrollableContainer, can_focus=False):
    """Scrolls the map (the mouse's wheel, and to the selected node); never takes the arrow keys,
    which move between nodes."""


class MapScreen(ModalScreen[None]):
    """Refreshed with the snapshots while open; escape, m or q closes it."""

    BINDINGS = [
        Binding("escape,m,q", "close", "close", key_display="esc"),
        Binding("left", "move(-1, 0)", "column", show=False),
        Binding("right", "move(1, 0)", "column", show=False),
        Binding("up", "move(0, -1)", "node", show=False),
        Binding("down", "move(0, 1)", "node", show=False),
        Binding("enter", "open", "detail of the node's row"),
    ]

    def __init__(self, open_detail: Callable[[str], None]) -> None:
        super().__init__()
        self.open_detail = open_detail
        self.selected: str | None = None
        self.graph = Graph((), ())
        self._columns: list[list[Node]] = []
        self._drawn: tuple[Any, ...] | None = None
        self._drawn_at = 0.0
        self._snapshot: Snapshot | None = None
        self._drawing: ConsoleGraph | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="map-title")
        with MapScroll(id="map-scroll"):
            yield Static(id="map-canvas")
        yield Static(id="map-legend")
        yield Footer()

    def show(self, snapshot: Snapshot, force: bool = False) -> None:
        self._snapshot = snapshot
        now = time.monotonic()
        pipes, hidden = folded(snapshot.pipelines, MAP_NODES)
        graph = graph_of(pipes, readers_of(snapshot))
        shape = (
            tuple((n.key, n.state) for n in graph.nodes),
            tuple((e.start, e.end, e.lost) for e in graph.edges),
        )
        if (
            not force
            and self._drawn is not None
            and self._drawn[0] == shape
            and now - self._drawn_at < REDRAW_SECONDS
        ):
            return  # only counts moved, and the map was drawn a moment ago
        self.graph = graph
        self._columns = reading_order(graph)
        keys = [n.key for n in graph.nodes]
        if self.selected not in keys:
            worst = max(graph.nodes, key=lambda n: RANK[n.state], default=None)
            chosen = worst if worst is not None and worst.state != "ok" else None
            self.selected = chosen.key if chosen else (self._columns[0][0].key if self._columns else None)
        drawn = (shape, tuple(e.label for e in graph.edges), self.selected)
        if drawn == self._drawn and not force:
            return
        self._drawn, self._drawn_at = drawn, now
        rows = sum(1 for p in snapshot.pipelines if p.kind.value != "topic")
        title = Text.assemble(("map", "bold"), f" of {snapshot.app_id}: {plural(rows, 'pipeline')}")
        if hidden:
            title.append(
                f" · {plural(hidden, 'pipeline')} without problems not drawn (the table lists them)",
                style="yellow",
            )
        title.append("   ←→ columns · ↑↓ nodes · enter: the node's row · esc: back", style="dim")
        self.query_one("#map-title", Static).update(title)
        canvas = self.query_one("#map-canvas", Static)
        if not graph.nodes:
            canvas.update(Text("nothing to draw yet: no pipeline has sent a value", style="dim"))
            return
        self._drawing = drawing(graph, self.selected)
        canvas.update(at_full_width(self._drawing))
        self.call_after_refresh(self._scroll_to_selected)
        self.query_one("#map-legend", Static).update(legend(graph, self.selected))

    def _scroll_to_selected(self) -> None:
        """Bring the selected node into view (the map may be bigger than the terminal): its box, in
        the drawing's coordinates once netext laid it out, less the drawing's origin."""
        drawn = self._drawing
        if drawn is None or self.selected is None:
            return
        with contextlib.suppress(Exception):  # not laid out yet, or netext's internals moved
            box = drawn.node_buffers[self.selected].region
            origin = drawn.viewport
            self.query_one("#map-scroll", MapScroll).scroll_to_region(
                Region(box.x - origin.x, box.y - origin.y, box.width, box.height), animate=False
            )

    def action_move(self, across: int, down: int) -> None:
        if not self._columns or self.selected is None:
            return
        where = next(
            (
                (c, r)
                for c, col in enumerate(self._columns)
                for r, n in enumerate(col)
                if n.key == self.selected
            ),
            (0, 0),
        )
        column = min(max(where[0] + across, 0), len(self._columns) - 1)
        nodes = self._columns[column]
        row = min(max((where[1] if across else where[1] + down), 0), len(nodes) - 1)
        self.selected = nodes[row].key
        if self._snapshot is not None:
            self.show(self._snapshot, force=True)

    def action_open(self) -> None:
        node = next((n for n in self.graph.nodes if n.key == self.selected), None)
        if node is not None and node.rows:
            self.open_detail(node.rows[0])

    def action_close(self) -> None:
        self.dismiss(None)
