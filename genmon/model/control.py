"""What the screen may ask of whatever runs the apps: the protocol between the screen and the host.

The screen depends on this protocol only, never on the host class: tests drive it with a fake that
serves hand-built snapshots, and a watcher of remote workers can serve it the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from genmon.model.snapshot import Snapshot

if TYPE_CHECKING:
    from genmon.model.path import ValuePath


class Refused(Exception):
    """A command that cannot be carried out; the message says why, in words fit for the screen."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else type(self).__name__


class UnknownPipeline(Refused, KeyError):
    """No pipeline has that name (a KeyError too, for code that looks names up)."""


class NotSwitchable(Refused):
    """The row exists but is not a tracked generator: a task, a timer, an agent or a topic."""


@runtime_checkable
class Monitor(Protocol):
    """A source of snapshots that takes commands."""

    def snapshot(self, fresh: bool = False) -> Snapshot:
        """The latest reading of every pipeline; ``fresh``: of a reading taken now (the last one of
        a run, or right after a command), not the sampler's latest."""
        ...

    def set_generator(self, name: str, on: bool) -> None:
        """Switch one tracked generator; raises :class:`Refused` (with the reason) when it cannot."""
        ...

    def set_all(self, on: bool) -> None:
        """Switch every tracked generator."""
        ...

    def reset(self) -> None:
        """Zero every count (values already in flight are ignored at every stage)."""
        ...

    def path(self, row: str, seq: int) -> ValuePath:
        """Where value ``seq`` of ``row`` went, hop by hop (see :mod:`genmon.model.path`); raises
        :class:`Refused` for a row or an id that does not exist."""
        ...


@runtime_checkable
class LogSource(Protocol):
    """Log lines for the screen's log panel, read incrementally by sequence number."""

    def since(self, seq: int) -> tuple[int, list[str]]:
        """Lines after ``seq`` and the new last sequence number."""
        ...
