"""Typed messages: the refresh worker's snapshots, and what the pipelines table says happened."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from genmon.model import Snapshot


@dataclass
class SnapshotTaken(Message):
    """A fresh snapshot. A backlog (a busy screen) coalesces to the newest one."""

    snapshot: Snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SnapshotTaken)


@dataclass
class RowHighlighted(Message):
    """The table's cursor is on another row (``key``: a pipeline's name or an app's header row)."""

    key: str | None


@dataclass
class RowChosen(Message):
    """Enter (or a click on the highlighted row): open the row's details, or fold an app's rows."""

    key: str
