"""Textual's header, whose title is updated without laying the screen out again.

genmon's sub-title carries the rows' state counts ("200 pipelines: 3 lost · 196 ok"), which change
on most refreshes of a busy app; Textual's header updates its title with a layout, and a layout
repaints the whole screen. The title sits in a header of fixed height, so new words never need one.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.visual import VisualType
from textual.widgets import Header
from textual.widgets._header import HeaderClockSpace, HeaderIcon, HeaderTitle


class SteadyTitle(HeaderTitle):
    """A header title whose updates repaint only itself."""

    def update(self, content: VisualType = "", *, layout: bool = False) -> None:
        super().update(content, layout=False)


class SteadyHeader(Header):
    """The header genmon shows: Textual's, with a :class:`SteadyTitle` and no clock."""

    def compose(self) -> ComposeResult:
        yield HeaderIcon().data_bind(Header.icon)
        yield SteadyTitle()
        yield HeaderClockSpace()
