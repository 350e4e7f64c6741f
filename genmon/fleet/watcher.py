"""The watcher: every worker's reports in from ``genmon-reports``, switches out to ``genmon-control``.

Implements :class:`genmon.model.Monitor`, so the screen, ``--headless`` and ``check`` run against a
watcher exactly as they did against an in-process host — and the screen's process holds no Faust
app. The reports are merged by :class:`genmon.model.merge.Fleet`; the settle clocks are advanced by
one :class:`~genmon.watch.sampler.Sampler`; broker truth comes from an
:class:`~genmon.watch.offsets.OffsetWatcher`. Kafka clients run on a thread and loop of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from genmon.broker import BrokerAddress
from genmon.broker.health import BrokerHealth
from genmon.fleet import signing
from genmon.fleet.channel import CONTROL, REPORTS, ensure_topics
from genmon.fleet.loopthread import OwnLoop
from genmon.model import AppState, Reading, RowKind, one_line
from genmon.model.control import NotSwitchable, UnknownPipeline
from genmon.model.control_record import EVERY, RESET, ControlRecord
from genmon.model.merge import Fleet
from genmon.model.wire import WireError, WorkerReport, decode
from genmon.watch.heap import give_back
from genmon.watch.offsets import OffsetWatcher
from genmon.watch.readout import Readout
from genmon.watch.sampler import Sampler

log = logging.getLogger("genmon.fleet")

SETTLE_HOPS_SECONDS = 60.0
"""How often the hops' runs of values the fleet processed are let go of (and once the history is
merged)."""
TRIM_SECONDS = 10.0
"""How often the memory decoding freed is handed back to the OS (a few ms each time): a watcher
reading three workers' reports touched 12 MB of fresh pages a minute between two trims."""
HISTORY_STALL_SECONDS = 20.0
"""Waiting for the history ends when nothing was read for this long."""
HISTORY_PRUNE_RECORDS = 2000
"""The history read is pruned to each worker's newest checkpoint on whenever it holds this many."""
HISTORY_SETTLE_RUNS = 20_000
"""While the history is folded, the hops' runs of values the fleet processed are let go of whenever
the reports folded since brought this many (a worker's limit, ``MADE_FROM_LIMIT``)."""

Accept = Callable[[WorkerReport], bool]


class WatcherError(Exception):
    """The watcher could not reach the broker; the message is one line."""


class Watcher(OwnLoop, Readout):
    """Any method is safe from any thread. ``accept`` picks the workers to watch (all by default)."""

    what = "genmon's report reader"

    def __init__(
        self,
        broker: BrokerAddress,
        *,
        embedded: bool = False,
        broker_alive: Callable[[], bool] | None = None,
        broker_pid: Callable[[], int | None] | None = None,
        accept: Accept | None = None,
        accept_key: Callable[[bytes], bool] | None = None,
        settle_seconds: float = 5.0,
        log_path: str | None = None,
        listening_rows: bool = False,
        control_since: int = 0,
    ) -> None:
        super().__init__("genmon-watcher")
        self.broker = broker
        self.embedded = embedded
        self.health = BrokerHealth(
            broker, embedded=embedded, alive=broker_alive, pid=broker_pid, on_back=self._broker_back
        )
        """Whether the broker answers requests, its outages, the embedded one's memory."""
        self.accept = accept or (lambda _report: True)
        self.signer = signing.from_env()
        """The fleet's secret: reports that do not verify are not merged, switches are signed."""
        self.accept_key = accept_key or (lambda _key: True)
        self.settle_seconds = settle_seconds
        self.log_path = log_path
        self.listening_rows = listening_rows
        self.control_since = control_since
        """Switches stamped before this (ns) belong to an earlier session: not shown as wanted."""
        self.fleet = Fleet()
        self.sampler = Sampler(self.read, settle_seconds, changed=self._reading_token)
        self.offsets = OffsetWatcher(broker, self._topics_to_watch)
        self.received_messages = 0
        self.received_bytes = 0
        self.freshness: list[float] = []
        """Seconds from a report being taken (worker's clock) to its merge here (same host: same clock)."""
        self.started_at = time.monotonic()
        self._stopping = threading.Event()
        self._reread = threading.Event()
        """Set by :meth:`reconnect`: the reading loop ends, a new one starts on the same fleet."""
        self._outbox: asyncio.Queue[ControlRecord] | None = None
        self._backlog = 0
        """The reports topic's end when the watcher connected: reports before it are history."""
        self._first = 0
        """The reports topic's first offset when the watcher connected (for the history's progress)."""
        self._position: int | None = None
        """The next report to read; kept across a reconnect, so a broker that kept the topic is read
        on from there rather than from its beginning again."""
        self._known: dict[int, bool] = {}
        """Whether each of the history's checkpoints decoded so far is a report, by offset (one that
        is not is refused and counted once)."""
        self._prune_at = HISTORY_PRUNE_RECORDS
        self.caught_up = threading.Event()
        """Set once the reports that were on the topic when the watcher started are merged: until
        then the fleet is the past's (workers that ran an hour ago look silent, not gone)."""

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self, timeout: float = 15.0) -> Watcher:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise WatcherError(
                f"genmon could not read its reports from {self.broker.url} within {timeout:.0f}s"
            )
        if self._error:
            raise WatcherError(self._error)
        self.offsets.start()
        self.sampler.start()
        self.health.start()
        return self

    def stop(self, timeout: float = 3.0) -> None:
        """Stop reading (idempotent); control records already sent stay sent."""
        self._stopping.set()
        self.health.stop()
        self.sampler.stop()
        self.offsets.stop(timeout)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _broker_back(self) -> None:
        """The broker answers again: fresh clients for broker truth; for a broker genmon does not
        run, read genmon's topics afresh too (a restarted Tansu forgot them). Genmon's own broker
        is restarted by the recovery, which reconnects itself."""
        if self._stopping.is_set():
            return
        self.offsets.reconnect()
        if not self.embedded:
            try:
                self.reconnect()
            except WatcherError as exc:
                log.warning("genmon's reports after the broker came back: %s", exc)

    def reconnect(self, timeout: float = 15.0) -> None:
        """Read genmon's topics afresh, on a broker that came back empty (a restarted embedded
        broker): the fleet — every count so far — stays, the desired switches are sent again."""
        self._reread.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._reread.clear()
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run, name="genmon-watcher", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self._error:
            raise WatcherError(self._error or f"genmon could not read its reports within {timeout:.0f}s")
        for (app_id, name), switch in sorted(self.fleet.switches.items(), key=lambda kv: kv[1].stamp):
            self._post(ControlRecord(app_id, name, switch.on, time.time_ns()))

    @property
    def broker_url(self) -> str:
        return self.broker.url

    # -- the watcher's thread ------------------------------------------------------------------
    async def _main(self) -> None:
        from aiokafka import TopicPartition

        from genmon.broker import clients

        self._outbox = asyncio.Queue()
        await ensure_topics(self.broker)
        consumer = clients.consumer(
            self.broker, auto_offset_reset="earliest", max_partition_fetch_bytes=4 * 1024 * 1024
        )
        producer = clients.producer(self.broker, linger_ms=0, acks=1)
        try:
            await consumer.start()
            await producer.start()
            reports, control = TopicPartition(REPORTS, 0), TopicPartition(CONTROL, 0)
            consumer.assign([reports, control])
            end = (await consumer.end_offsets([reports])).get(reports, 0)
            if self._position is not None and self._position <= end:
                # The broker kept the topic: read on (an offset it has deleted since falls back to
                # its earliest: ``auto_offset_reset``). Each offsets request costs a round trip.
                consumer.seek(reports, self._position)
                await consumer.seek_to_beginning(control)
            else:
                await consumer.seek_to_beginning(reports, control)
                self._position = None
            self._first = self._position or 0
            self._backlog = end
            history: list[Any] = []
            trimmed = settled = time.monotonic()
            if end == 0 or (self._position or 0) >= end:
                self.caught_up.set()
            self._ready.set()
            sender = asyncio.ensure_future(self._send_control(producer))
            try:
                while not self._stopping.is_set() and not self._reread.is_set():
                    batches = await consumer.getmany(timeout_ms=100)
                    now = time.monotonic()
                    records = self._counted(batches.get(reports, ()))
                    if records and self._position is None:
                        self._first = records[0].offset  # where the history starts (its progress)
                    self._position = await consumer.position(reports)
                    if self.caught_up.is_set():
                        self._take_reports(records, now)
                    else:
                        history = self._pruned(history + records)
                        if self._position >= self._backlog:
                            self._take_reports(history, now)
                            history = []
                            self._known.clear()
                            self.caught_up.set()
                            trimmed = settled = 0.0  # the history is merged: its memory goes back now
                    if now - settled >= SETTLE_HOPS_SECONDS:
                        self.fleet.settle_hops()
                        settled = now
                    if now - trimmed >= TRIM_SECONDS:
                        give_back()
                        trimmed = now
                    self._take_control(batches.get(control, ()))
            finally:
                sender.cancel()
        finally:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(consumer.stop(), 1.0)
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(producer.stop(), 1.0)

    def catch_up(self, say: Callable[[str], None] | None = None, every: float = 5.0) -> float:
        """Block until the history is merged (see :attr:`caught_up`); ``say`` is told how far it
        is, every ``every`` seconds after the first, when it takes that long. Returns the seconds it
        took. Ends early when the watcher stops (its thread ended: the error is its own) or reads
        nothing for ``HISTORY_STALL_SECONDS`` (a broker gone away: the screen says so, and the
        watcher reads on when it is back)."""
        started = time.monotonic()
        moved, at = started, self._position
        while not self.caught_up.wait(every):
            now = time.monotonic()
            if at != self._position:
                moved, at = now, self._position
            if not self._thread.is_alive() or self._stopping.is_set() or now - moved >= HISTORY_STALL_SECONDS:
                break
            progress = self.history()
            if say is not None and progress is not None:
                read, total = progress
                say(
                    f"genmon: reading the fleet's reports of the last hour: {read:,} of {total:,} "
                    f"({100 * read // max(total, 1)} %)"
                )
        return time.monotonic() - started

    def history(self) -> tuple[int, int] | None:
        """While the reports that were on the topic at the start are being read: how many of them
        are read, of how many; None once they are merged."""
        if self.caught_up.is_set():
            return None
        position = self._position if self._position is not None else self._first
        return max(position - self._first, 0), max(self._backlog - self._first, 0)

    def _counted(self, records: Iterable[Any]) -> list[Any]:
        records = list(records)
        self.received_messages += len(records)
        self.received_bytes += sum(len(record.value or b"") for record in records)
        return records

    def _pruned(self, records: list[Any]) -> list[Any]:
        """The history read so far, less what no watcher needs: for each worker, everything before
        its newest readable checkpoint (the checkpoint has it all). An hour of a fleet's reports is
        held as a few checkpoints and the deltas after them, and folded once, when it is all read."""
        if len(records) < self._prune_at:
            return records
        last_checkpoint, _ = self._checkpoints(records, keep=False)
        kept = []
        for index, record in enumerate(records):
            key = record.key
            if key is None or not self.accept_key(key):
                continue
            if index >= last_checkpoint.get(key.split(b"#", 1)[0], -1):
                kept.append(record)
        offsets = {record.offset for record in kept}
        self._known = {offset: report for offset, report in self._known.items() if offset in offsets}
        self._prune_at = max(HISTORY_PRUNE_RECORDS, 2 * len(kept))  # what is left is not scanned again soon
        return kept

    def _checkpoints(
        self, records: list[Any], *, keep: bool = True
    ) -> tuple[dict[bytes, int], dict[int, WorkerReport]]:
        """Each worker's newest *readable* checkpoint among ``records`` (its index), decoded unless
        not ``keep``: a record under a worker's key that is not a report (anyone may write one) is
        refused and counted, and never hides the worker's own."""
        checkpoints: dict[bytes, list[int]] = {}
        for index, record in enumerate(records):
            if record.key is not None and b"#" not in record.key:
                checkpoints.setdefault(record.key, []).append(index)
        last_checkpoint: dict[bytes, int] = {}
        decoded: dict[int, WorkerReport] = {}
        for key, indexes in checkpoints.items():
            if not self.accept_key(key):
                continue
            for index in reversed(indexes):
                if not keep:
                    if self._readable(records[index]):
                        last_checkpoint[key] = index
                        break
                elif (report := self._decoded(records[index])) is not None:
                    last_checkpoint[key], decoded[index] = index, report
                    break
        return last_checkpoint, decoded

    def _readable(self, record: Any) -> bool:
        """Whether a record is a report, decoded (and, if not, refused and counted) once while the
        history is read — it is pruned more than once. Only the answer is kept, not the report: an
        hour's history holds a checkpoint of every worker run, and holding them all decoded at once
        (with the origins of up to 20,000 hop values each) was what reading it peaked at, 165 MB
        for an hour of 28 worker runs (docs/CHAOS.md)."""
        known = self._known.get(record.offset)
        if known is None:
            known = self._known[record.offset] = self._decoded(record) is not None
        return known

    def _take_reports(self, records: list[Any], now: float) -> None:
        """Fold reports in order; what precedes a worker's newest checkpoint among them is skipped
        undecoded (the checkpoint has it all). The history is folded one report decoded at a time,
        and what the hops hold of processed values is let go of as it goes."""
        history = not self.caught_up.is_set()
        last_checkpoint, decoded = self._checkpoints(records, keep=not history)
        wall = time.time()
        held = 0
        for index, record in enumerate(records):
            key = record.key
            if key is None or not self.accept_key(key):
                continue
            base = key.split(b"#", 1)[0]
            if index < last_checkpoint.get(base, -1) or (
                b"#" not in key and index != last_checkpoint.get(base)
            ):
                continue  # older than the newest readable checkpoint, or refused above
            report = decoded.get(index) or self._decoded(record)
            if report is not None and self.accept(report):
                arrived = now
                if record.offset < self._backlog:
                    # Read late (a watcher started after the workers): it arrived when it was sent.
                    arrived = now - max(wall - report.at, 0.0)
                self.fleet.add(report, arrived)
                if history:
                    held += sum(len(src.made_from) for src in report.sources)
                    if held >= HISTORY_SETTLE_RUNS:
                        self.fleet.settle_hops()
                        held = 0
                self.freshness.append(max(wall - report.at, 0.0))
                del self.freshness[:-2000]

    def _decoded(self, record: Any) -> WorkerReport | None:
        """The report in a record, or None: refused and counted — not a report (docs/FLEET.md,
        "Hostile records"), or, with a secret, not signed with it ("Signed records")."""
        if self.signer is not None and (who := self.signer.refusal(record.key, record.value, record.headers)):
            self.fleet.unverified[who] = self.fleet.unverified.get(who, 0) + 1
            return None
        try:
            return decode(record.value or b"")
        except WireError as exc:
            self.fleet.rejected += 1
            log.debug("refused a record on the reports topic: %s", exc)
            return None

    def _take_control(self, records: Iterable[Any]) -> None:
        for record in records:
            if self.signer is not None and self.signer.refusal(record.key, record.value, record.headers):
                continue  # a switch nobody with the secret made: no worker obeys it, nor is it shown
            try:
                control = ControlRecord.decode(record.key, record.value)
            except WireError:
                continue
            if control.name != RESET and control.stamp >= self.control_since:
                self.fleet.switch(control.app_id, control.name, control.on, control.stamp)

    async def _send_control(self, producer: Any) -> None:
        assert self._outbox is not None
        while True:
            record = await self._outbox.get()
            try:
                value = record.encode()
                signed = self.signer.headers(record.key, value) if self.signer is not None else None
                await producer.send_and_wait(CONTROL, value, key=record.key, headers=signed)
            except Exception as exc:
                if "Authorization" not in type(exc).__name__:
                    log.warning("a switch could not be sent: %s", one_line(exc))
                    continue
                self.fleet.switches_refused = (
                    f"the broker refused genmon's switch ({type(exc).__name__}): this watcher may not write "
                    f"{CONTROL}; grant its user WRITE on topic {CONTROL} (docs/FLEET.md, \"ACLs\")"
                )
                log.warning("%s", self.fleet.switches_refused)
                if record.name != RESET:
                    self.fleet.unswitch(record.app_id, record.name, record.stamp)
                self.sampler.stale()

    def _post(self, record: ControlRecord) -> None:
        """Send a control record (from any thread), and take it as desired at once."""
        if record.name != RESET:
            self.fleet.switch(record.app_id, record.name, record.on, record.stamp)
        self.sampler.stale()
        loop, outbox = self._loop, self._outbox
        if loop is None or outbox is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(outbox.put_nowait, record)

    # -- commands (genmon.model.Monitor) ---------------------------------------------------------
    def set_generator(self, name: str, on: bool) -> None:
        snap = self.snapshot()
        pipe = next((p for p in snap.pipelines if p.name == name), None)
        if pipe is None:
            raise UnknownPipeline(f"no pipeline named {name!r}")
        if pipe.kind == RowKind.TOPIC:
            raise NotSwitchable(f"{name} is a topic, not a tracked generator")
        if not pipe.kind.switchable:
            raise NotSwitchable(
                f"{name} is not a tracked generator; wrap its values with @genmon.track to switch it"
            )
        self._post(ControlRecord(pipe.app_id, name, on, time.time_ns()))

    def set_all(self, on: bool) -> None:
        for app_id in self._app_ids():
            self._post(ControlRecord(app_id, EVERY, on, time.time_ns()))

    def reset(self) -> None:
        """Count from now: a floor per origin here, and each worker zeroes its own statistics."""
        names = {p.name for p in self.snapshot().pipelines}
        self.fleet.reset()
        self.sampler.forget(names)
        for app_id in self._app_ids():
            self._post(ControlRecord(app_id, RESET, True, time.time_ns()))

    def _app_ids(self) -> list[str]:
        return list(dict.fromkeys(app.app_id for h in self.fleet.heard.values() for app in h.report.apps))

    # -- reading (genmon.model.Monitor) ----------------------------------------------------------
    def _reading_token(self) -> object:
        """What a reading depends on besides the time: it changes when a report is merged, the
        broker's state changes or the offsets are polled (each poll replaces their dicts)."""
        return (self.fleet.version, self.health.info(self.broker.url), id(self.offsets.offsets))

    def read(self) -> Reading:
        return self.merged()

    def _topics_to_watch(self) -> dict[str, str | None]:
        """Every topic a source sent to, with the group of the app whose agents read it (from the
        reports as they are: no merge needed)."""
        reports = [h.report for h in list(self.fleet.heard.values())]
        apps = {app.app_id: app for report in reports for app in report.apps}
        readers = {topic: app.app_id for app in apps.values() for topic in app.readers}
        if len(apps) == 1:  # a topic read by a stream, not an agent (a group_by repartition)
            (only,) = apps
            readers.update({topic: only for topic in self.fleet.consumed()})
        sent = {
            topic: readers.get(topic)
            for report in reports
            for src in report.sources
            if not src.foreign
            for topic in src.topics
        }
        # and every topic an agent reads: what other producers leave there is judged by offsets
        return {**{t: g for t, g in readers.items() if g is not None}, **sent}

    # -- waiting ---------------------------------------------------------------------------------
    def workers_ready(self) -> tuple[int, list[str]]:
        """How many workers have every app past starting, and the errors of apps that crashed."""
        ready, errors = 0, []
        for h in self.fleet.heard.values():
            states = [app.state for app in h.report.apps]
            if states and AppState.STARTING not in states:
                ready += 1
            errors += [app.error for app in h.report.apps if app.state == AppState.CRASHED and app.error]
        return ready, errors
