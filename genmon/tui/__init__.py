"""The Textual screen. It reads snapshots and sends commands; it never touches Faust objects."""

from genmon.tui.app import GenmonApp

__all__ = ["GenmonApp"]
