"""In a worker: its reports out to ``genmon-reports``, the desired switches in from ``genmon-control``.

A thread with a loop and Kafka clients of its own, never Faust's: the app's producer, sensors and
loop are not touched (a generator that blocks the app's loop stalls the app, and the reports keep
coming and say so), and a stop never waits on the app. What it sends:

* a *checkpoint* (the worker's whole state) first, then *deltas* (only the ids added since the last
  report; counters as they are now) every ``every`` seconds when anything changed, else every
  ``heartbeat`` seconds (the watcher calls a worker silent for three heartbeats gone);
* another checkpoint once the deltas since the last one add up to ``CHECKPOINT_SPACING`` times its
  size (checkpoints then cost at most a third of what the deltas cost: the traffic grows with the
  values, not with the values squared, which matters on a broker that never compacts) and at least
  every ``CHECKPOINT_MAX_SECONDS``;
* a final checkpoint at stop (``final=True``): the watcher then knows the worker stopped, not died.

A checkpoint is keyed by the worker, so compaction keeps its newest; deltas have keys of their own
and a watcher started late folds those after the newest checkpoint (docs/FLEET.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from genmon.broker.address import BrokerAddress
from genmon.fleet import signing
from genmon.fleet.channel import CONTROL, REPORTS, ensure_topics
from genmon.fleet.loopthread import OwnLoop
from genmon.model import one_line
from genmon.model.control_record import ControlRecord
from genmon.model.delta import delta_of, fold
from genmon.model.wire import WireError, WorkerReport, encode

log = logging.getLogger("genmon.fleet")

EVERY_SECONDS = 0.5
HEARTBEAT_SECONDS = 1.0
LATENCY_EVERY_SECONDS = 5.0
"""Deltas carry the latency histograms at most this often (a watcher refreshes percentiles as often)."""
CHECKPOINT_MIN_BYTES = 16 * 1024
CHECKPOINT_SPACING = 3
"""Deltas worth this many checkpoints go out between two checkpoints: checkpoints add a third to the
deltas' bytes (at 1 they doubled them), and a watcher started late folds at most three checkpoints'
worth of deltas."""
CHECKPOINT_MAX_SECONDS = 600.0
"""A watcher started late folds at most this long a chain of deltas onto a worker's checkpoint."""
CONTROL_POLL_MS = 50


class PublisherError(Exception):
    """The publisher could not reach the broker; the message is one line."""


class Publisher(OwnLoop):
    """Start once; ``stop()`` sends the final report and returns within its timeout."""

    what = "genmon's reports"

    def __init__(
        self,
        broker: BrokerAddress,
        report: Callable[[bool, bool], WorkerReport],
        on_control: Callable[[ControlRecord], None],
        *,
        every: float = EVERY_SECONDS,
        heartbeat: float = HEARTBEAT_SECONDS,
    ) -> None:
        super().__init__("genmon-publisher")
        self.broker = broker
        self._report = report
        self._on_control = on_control
        self.every = every
        self.heartbeat = heartbeat
        self.sent_messages = 0
        self.sent_bytes = 0
        self.control_applied = 0
        self.control_refused = 0
        """Control records that did not verify under the fleet's secret (see genmon.fleet.signing)."""
        self.signer = signing.from_env()
        self._number = 0
        """The number of the last report sent: a delta is numbered one more than what it builds on."""
        self._base: WorkerReport | None = None
        """What the watcher has after the last report sent (the state the next delta builds on)."""
        self._checkpoint_bytes = 0
        self._latency_at = 0.0
        self._checkpoint_at = 0.0
        self._since_checkpoint = 0
        self._stop: asyncio.Event | None = None
        self._final_sent = threading.Event()

    # -- any thread --------------------------------------------------------------------------------
    def start(self, timeout: float = 15.0, wait: bool = True) -> Publisher:
        """Connect, and read the control topic to its end (so switches apply before apps start).

        ``wait=False``: return at once; :meth:`wait_ready` later (the apps are built meanwhile)."""
        self._thread.start()
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 15.0) -> None:
        """Block until connected with the switches read; :class:`PublisherError` if that failed."""
        if not self._ready.wait(timeout):
            raise PublisherError(
                f"genmon's reports could not reach {self.broker.bootstrap} within {timeout:.0f}s"
            )
        if self._error:
            raise PublisherError(self._error)

    def stop(self, timeout: float = 3.0) -> bool:
        """Send the final report and close; True when the final report was acknowledged in time."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        return self._final_sent.is_set()

    # -- the publisher's thread ----------------------------------------------------------------------
    async def _main(self) -> None:
        from aiokafka import TopicPartition

        from genmon.broker import clients

        self._stop = asyncio.Event()
        await ensure_topics(self.broker)
        producer = clients.producer(self.broker, linger_ms=0, acks=1)
        consumer = clients.consumer(self.broker)
        try:
            await producer.start()
            for topic in (REPORTS, CONTROL):
                # an ACL that hides genmon's topics from this user: raised now, not after the
                # start's timeout (a faust worker's app waits for this start)
                await producer.partitions_for(topic)
            await consumer.start()
            tp = TopicPartition(CONTROL, 0)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            await self._drain_control(consumer, tp)
            self._ready.set()
            await self._publish(producer, consumer, tp)
        finally:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(consumer.stop(), 1.0)
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(producer.stop(), 1.0)

    async def _drain_control(self, consumer: Any, tp: Any) -> None:
        """Apply every control record there is now: a worker that starts later obeys the switches."""
        end = (await consumer.end_offsets([tp])).get(tp, 0)
        deadline = time.monotonic() + 5.0
        while await consumer.position(tp) < end and time.monotonic() < deadline:
            self._apply(await consumer.getmany(tp, timeout_ms=200))

    def _apply(self, batches: dict) -> None:
        for records in batches.values():
            for record in records:
                if self.signer is not None and (
                    who := self.signer.refusal(record.key, record.value, record.headers)
                ):
                    self.control_refused += 1
                    if self.control_refused in (1, 10) or self.control_refused % 1000 == 0:
                        log.warning(
                            "genmon worker: refused %d switches that do not verify (%s)",
                            self.control_refused,
                            who,
                        )
                    continue
                try:
                    control = ControlRecord.decode(record.key, record.value)
                except WireError:
                    continue
                try:
                    self._on_control(control)
                    self.control_applied += 1
                except Exception as exc:
                    log.warning("a genmon switch could not be applied: %s", one_line(exc))

    async def _publish(self, producer: Any, consumer: Any, tp: Any) -> None:
        stop = self._stop
        assert stop is not None
        last_key, last_sent, next_report = b"", 0.0, 0.0
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                self._apply(await asyncio.wait_for(consumer.getmany(tp, timeout_ms=CONTROL_POLL_MS), 1.0))
            now = time.monotonic()
            if now < next_report:
                continue
            next_report = now + self.every
            checkpoint = self._checkpoint_due(now)
            with_latency = checkpoint or now - self._latency_at >= LATENCY_EVERY_SECONDS
            report = self._report(False, with_latency)  # histograms encoded only when they go out
            if checkpoint:
                with contextlib.suppress(Exception):
                    await self._send(producer, report, now)
                    last_key, last_sent = b"", now
                continue
            assert self._base is not None
            delta = delta_of(self._base, report, self._number + 1, latency=with_latency)
            key = encode(replace(delta, at=0.0, number=0))
            if key == last_key and now - last_sent < self.heartbeat:
                continue  # nothing new, and not yet time for a heartbeat
            if not with_latency:  # what the watcher will hold: the last histograms it got
                report = fold(self._base, delta)
            with contextlib.suppress(Exception):
                await self._send(producer, delta, now, base=report)
                last_key, last_sent = key, now
                if with_latency:
                    self._latency_at = now
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._send(producer, self._report(True, True), time.monotonic()), 2.0)
            self._final_sent.set()

    def _checkpoint_due(self, now: float) -> bool:
        """A whole report first, then when the deltas since the last one add up to CHECKPOINT_SPACING
        times its size, and at least every CHECKPOINT_MAX_SECONDS."""
        spacing = CHECKPOINT_SPACING * max(self._checkpoint_bytes, CHECKPOINT_MIN_BYTES)
        return (
            self._base is None
            or self._since_checkpoint >= spacing
            or now - self._checkpoint_at >= CHECKPOINT_MAX_SECONDS
        )

    async def _send(
        self, producer: Any, report: WorkerReport, now: float, base: WorkerReport | None = None
    ) -> None:
        """Send a checkpoint (``report``) or a delta (``report`` on top of the last; ``base``: the
        whole state it brings the watcher to)."""
        if not report.delta:
            report = replace(report, number=self._number + 1)
        data = encode(report)
        signed = self.signer.headers(report.key, data) if self.signer is not None else None
        await producer.send_and_wait(REPORTS, data, key=report.key, headers=signed)
        self._number = report.number
        self.sent_messages += 1
        self.sent_bytes += len(data)
        if report.delta:
            self._base = base
            self._since_checkpoint += len(data)
        else:
            self._base = report
            self._checkpoint_bytes, self._checkpoint_at, self._since_checkpoint = len(data), now, 0
            self._latency_at = now
