"""Broker truth: how many records each pipeline's topic holds, and how far its consumer group got.

Counts from hooks say what the app saw; the broker says what is on the topic. The watcher polls,
every 2 s on a thread and loop of its own (never Faust's), the high watermark of every partition
(from a fetch response: Tansu's ``end_offsets`` under-reports after batched sends) and the group's
committed offsets (``partitions=`` always given: Tansu cannot answer without it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from aiokafka import TopicPartition

from genmon.broker import clients
from genmon.broker.address import BrokerAddress
from genmon.model import TopicOffsets, one_line
from genmon.probe.touchpoints import fresh_metadata

POLL_SECONDS = 2.0
log = logging.getLogger("genmon.offsets")

Wanted = Callable[[], dict[str, str | None]]
"""topic -> the consumer group that reads it (None: no group reads it)"""


class OffsetWatcher:
    """Polls the broker for the topics ``wanted()`` names; ``offsets`` is readable from any thread."""

    def __init__(self, broker: BrokerAddress, wanted: Wanted, poll: float = POLL_SECONDS) -> None:
        self.broker = broker
        self.wanted = wanted
        self.poll = poll
        self.offsets: dict[str, TopicOffsets] = {}
        self.members: dict[str, int] = {}
        """Consumer group -> how many members the broker lists (DescribeGroups)."""
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._polls = 0
        """How many polls finished (a refresh waits for the next one)."""
        self._thread = threading.Thread(target=self._run, name="genmon-offsets", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def refresh(self, timeout: float = 5.0) -> bool:
        """Poll now and wait until that poll finished (True), or ``timeout`` passed (False).

        The final report reads broker truth after the pipelines settled, not up to 2 s before.
        """
        if not self._thread.is_alive():
            return False
        target = self._polls + 2  # the poll under way may have started before the caller asked
        deadline = time.monotonic() + timeout
        while self._polls < target and time.monotonic() < deadline:
            self._wake.set()
            time.sleep(0.02)
        return self._polls >= target

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def reconnect(self, timeout: float = 5.0) -> None:
        """New clients, after the broker came back (a restarted broker may have forgotten topics;
        old clients kept stale metadata for minutes): broker truth is fresh again at the next poll."""
        if self._stop.is_set() or not self._thread.is_alive():
            return
        self.stop(timeout)
        self._stop.clear()
        self._wake.clear()
        self.offsets, self.members = {}, {}
        self._thread = threading.Thread(target=self._run, name="genmon-offsets", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # an extra (and CancelledError is no Exception): never a traceback
            log.warning("broker offsets unavailable: %s", one_line(exc))
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _main(self) -> None:
        consumer = clients.consumer(self.broker)
        admin = clients.admin(self.broker)
        await consumer.start()
        await admin.start()
        try:
            while not self._stop.is_set():
                with contextlib.suppress(Exception):
                    await self._poll_once(consumer, admin)
                self._polls += 1
                await asyncio.get_running_loop().run_in_executor(None, self._wake.wait, self.poll)
                self._wake.clear()
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()
            with contextlib.suppress(Exception):
                await admin.close()

    async def _poll_once(self, consumer: Any, admin: Any) -> None:
        wanted = self.wanted()
        if not wanted:
            return
        cluster = await fresh_metadata(consumer)  # topics appear as the app first sends
        tps = [
            TopicPartition(topic, partition)
            for topic in wanted
            for partition in sorted(cluster.partitions_for_topic(topic) or ())
        ]
        if not tps:
            return
        if set(consumer.assignment()) != set(tps):
            consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        await consumer.getmany(*tps, timeout_ms=300)  # a fetch response carries the true high watermark
        ends = await consumer.end_offsets(tps)
        starts: dict[TopicPartition, int] = {}
        with contextlib.suppress(Exception):  # past 0 once retention deleted records
            starts = await consumer.beginning_offsets(tps)
        fresh: dict[str, TopicOffsets] = {}
        for topic, group in wanted.items():
            parts = [tp for tp in tps if tp.topic == topic]
            end = sum(max(consumer.highwater(tp) or 0, ends.get(tp, 0)) for tp in parts)
            committed = None
            committed_by: dict[int, int] = {}
            if group:
                answer = await admin.list_consumer_group_offsets(group, partitions=parts)
                committed_by = {
                    tp.partition: meta.offset
                    for tp, meta in answer.items()
                    if meta is not None and meta.offset >= 0
                }
                committed = sum(committed_by.values())
            fresh[topic] = TopicOffsets(
                topic,
                len(parts),
                end,
                group,
                committed,
                committed_by=committed_by,
                starts={tp.partition: starts[tp] for tp in parts if starts.get(tp)},
            )
        self.offsets = fresh
        self.members = await _members(admin, {g for g in wanted.values() if g})


async def _members(admin: Any, groups: set[str]) -> dict[str, int]:
    """How many consumers each group has now: more than genmon's own workers means another
    instance of the app (same id, same group) takes a share of the partitions."""
    if not groups:
        return {}
    counts: dict[str, int] = {}
    with contextlib.suppress(Exception):  # a broker without DescribeGroups: not known
        for response in await admin.describe_consumer_groups(sorted(groups)):
            for group in response.groups:
                error, group_id, state = group[0], group[1], group[2]
                if error == 0 and state in ("Stable", "CompletingRebalance", "PreparingRebalance"):
                    counts[group_id] = len(group[5])
    return counts
