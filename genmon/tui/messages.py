"""Typed messages the refresh worker posts to the screen."""

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
