"""Merged reports to readings and snapshots: the one way every ``Monitor`` reads.

The watcher (a fleet's reports, in the screen's process) and the in-process host (its own one
report, in tests and tools) both keep a :class:`~genmon.model.merge.Fleet` and read it through
:class:`Readout`, so a fleet of one worker reads exactly like the host that runs it.
"""

from __future__ import annotations

import time

from genmon.broker.health import BrokerHealth
from genmon.model import Reading, Snapshot
from genmon.model.merge import Fleet
from genmon.model.path import ValuePath, value_path
from genmon.watch.offsets import OffsetWatcher
from genmon.watch.sampler import Sampler


class Readout:
    """The reading side of a ``Monitor``; the class that mixes it in sets these attributes."""

    fleet: Fleet
    health: BrokerHealth
    """Whether the broker answers requests, its outages, the embedded one's memory."""
    offsets: OffsetWatcher
    """Broker truth: each topic's end offsets and its group's committed offsets and members."""
    sampler: Sampler
    """Advances the settle clocks and keeps the latest snapshot (docs/ARCHITECTURE.md)."""
    settle_seconds: float
    log_path: str | None
    listening_rows: bool
    """Show a row for a topic an agent reads that nothing genmon follows sends to."""
    started_at: float
    """When this monitor started (monotonic): the reading's uptime counts from it."""

    @property
    def broker_url(self) -> str:
        raise NotImplementedError

    def merged(self) -> Reading:
        """The fleet's reports as they are now, with broker truth: the input of ``model.build``."""
        now = time.monotonic()
        return self.fleet.reading(
            now,
            broker=self.health.info(self.broker_url),
            offsets=self.offsets.offsets,
            group_members=self.offsets.members,
            settle_seconds=self.settle_seconds,
            log_path=self.log_path,
            uptime=now - self.started_at,
            listening_rows=self.listening_rows,
            wall=time.time(),
        )

    def broker_up(self) -> bool:
        return self.health.state == "up"

    def snapshot(self, fresh: bool = False) -> Snapshot:
        """One reading of every pipeline (``fresh``: taken now, see :class:`genmon.model.Monitor`)."""
        return self.sampler.snapshot(fresh)

    def path(self, row: str, seq: int) -> ValuePath:
        """Where value ``seq`` of ``row`` went (see :class:`genmon.model.Monitor`): from the reports as
        they are now, judged by the latest snapshot's verdicts."""
        return value_path(self.merged(), self.snapshot(), row, seq)
