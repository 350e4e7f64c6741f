"""A fleet on the real broker: plain ``faust worker`` processes of one app, genmon attached through its
Faust fixup (``GENMON_BROKER``) — no genmon code in the app beyond ``@genmon.track`` — watched by a
:class:`~genmon.fleet.watcher.Watcher` and by ``genmon watch`` started late.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from genmon.broker import BrokerProcess
from genmon.fleet.watcher import Watcher
from genmon.model import PipelineSnapshot, Snapshot, Stage, VerdictState, header_line
from genmon.watch.waiting import wait_for, wait_settled

ROOT = Path(__file__).resolve().parents[2]
TOPIC_PARTITIONS = 4
HEADLESS = ("--headless", "--json", "--duration", "3")


class Fleet:
    """``faust worker`` processes of ``tests/apps/fleet.py``, each in a session of its own."""

    def __init__(
        self, broker: BrokerProcess, app_id: str, folder: Path, module: str = "tests.apps.fleet"
    ) -> None:
        self.broker, self.app_id, self.folder, self.module = broker, app_id, folder, module
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        number = len(self.procs) + 1
        env = {
            **os.environ,
            "GENMON_BROKER": "app",
            "FLEET_APP_ID": self.app_id,
            "FLEET_BROKER": self.broker.url,
            "FLEET_DATADIR": str(self.folder),
            "PYTHONPATH": str(ROOT),
        }
        with open(self.folder / f"w{number}.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "faust", "-A", self.module, "worker", "--without-web"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append(proc)
        return proc

    def stop(self) -> list[int | None]:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = []
        for proc in self.procs:
            try:
                codes.append(proc.wait(20))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                codes.append(None)
        return codes


def create_topic(bootstrap: str, name: str) -> None:
    async def create() -> None:
        from aiokafka.admin import AIOKafkaAdminClient, NewTopic

        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(name, TOPIC_PARTITIONS, 1)])
        finally:
            await admin.close()

    asyncio.run(create())


@pytest.fixture
def fleet(broker: BrokerProcess, app_id: str, tmp_path: Path) -> Iterator[Fleet]:
    assert broker.address is not None
    create_topic(broker.address.bootstrap, f"{app_id}-numbers")  # as a deployment has it
    running = Fleet(broker, app_id, tmp_path)
    try:
        yield running
    finally:
        running.stop()


def alive(snap: Snapshot) -> int:
    return sum(1 for w in snap.workers if w.alive)


def own_reports(watcher: Watcher) -> dict[int, tuple[bool, int]]:
    """pid -> (switch, last id) of each worker's own ``numbers`` generator."""
    return {
        h.report.pid: (src.on, src.seq)
        for h in watcher.fleet.heard.values()
        for src in h.report.sources
        if src.name == "numbers" and not src.foreign
    }


def dropped_by_faust(pipe: PipelineSnapshot) -> int:
    """Values the broker took and the app's group committed past, that no agent ever received.

    Seen on Kafka with workers joining under load (2 runs of 5 with the suite on two xdist workers;
    6 of 22 runs of this scenario with a CPU hog beside it): a value acked, the group's committed
    offsets at the end of the topic (lag 0), and no agent ever got it. Checked with an agent that
    printed every event it got (with its genmon id header), in every worker: the id genmon named was
    the only one no agent received (others were received twice: redeliveries). So it is Faust's loss
    in a rebalance, and genmon must call it lost at received and name its id — never pass it as
    delivered. 0 when the row does not show exactly that."""
    short = pipe.counts.acked - pipe.counts.received
    caught_up = bool(pipe.offsets) and all(o.lag == 0 for o in pipe.offsets)
    named = pipe.missing.get(Stage.RECEIVED)
    if short > 0 and caught_up and pipe.verdict.lost_at == Stage.RECEIVED and named and named.count == short:
        return short
    return 0


def test_a_fleet_of_three_faust_workers_counted_once_switched_together_and_survives_a_kill(
    broker: BrokerProcess, app_id: str, fleet: Fleet, tmp_path: Path
) -> None:
    assert broker.address is not None
    watcher = Watcher(broker.address, accept=lambda r: any(a.app_id == app_id for a in r.apps)).start()
    try:
        workers = [fleet.start() for _ in range(3)]
        snap = wait_for(
            watcher,
            lambda s: (
                alive(s) == 3
                and bool(s.pipelines)
                and s.pipeline("numbers").counts.processed >= 300
                and sum(1 for w in s.workers if w.shares.get(Stage.RECEIVED)) >= 2
            ),
            90,
        )
        assert alive(snap) == 3, [w.to_dict() for w in snap.workers]
        assert snap.pipeline("numbers").counts.processed >= 300

        # A switch reaches every worker, and each confirms it in its next report.
        asked = time.monotonic()
        watcher.set_generator("numbers", False)
        wait_for(watcher, lambda s: all(not on for on, _ in own_reports(watcher).values()), 10)
        took = time.monotonic() - asked
        assert all(not on for on, _ in own_reports(watcher).values()), own_reports(watcher)
        assert len(own_reports(watcher)) == 3 and took < 10
        confirmed = wait_for(watcher, lambda s: "switching" not in s.pipeline("numbers").verdict.text, 5)
        assert "switching" not in confirmed.pipeline("numbers").verdict.text

        # Every value once per stage across workers: sent in one, received in another.
        assert wait_settled(watcher, limit=60.0)
        snap = watcher.snapshot(fresh=True)
        pipe = snap.pipeline("numbers")
        c = pipe.counts
        assert c.yielded == c.sent == c.acked > 300 and c.received == c.processed, pipe.to_dict()
        if c.received < c.acked:  # a value Faust itself dropped during a rebalance: named, exactly
            assert dropped_by_faust(pipe) == c.acked - c.received, pipe.to_dict()
        else:
            assert pipe.missing == {} and pipe.verdict.state == VerdictState.PAUSED
        # Workers joining one by one rebalance the group: a value read but not yet committed when its
        # partition moved is read again by another worker — a redelivery, shown, never a loss.
        shares = [w.shares.get(Stage.RECEIVED, 0) for w in snap.workers]
        redelivered = sum(shares) - c.received  # values two workers both received
        assert 0 <= redelivered <= pipe.duplicates.get(Stage.RECEIVED, 0)
        assert sum(1 for n in shares if n) >= 2
        assert sum(1 for w in snap.workers if w.shares.get(Stage.SENT)) == 3

        # A worker that starts while the generator is off starts it off.
        late = fleet.start()
        wait_for(watcher, lambda s: late.pid in own_reports(watcher) and alive(s) == 4, 60)
        time.sleep(3)
        assert own_reports(watcher)[late.pid] == (False, 0)

        # kill -9 one worker while values flow: gone, never a false loss.
        watcher.set_generator("numbers", True)
        before = watcher.snapshot().pipeline("numbers").counts.processed
        wait_for(watcher, lambda s: s.pipeline("numbers").counts.processed >= before + 200, 30)
        os.killpg(workers[1].pid, signal.SIGKILL)
        gone = wait_for(watcher, lambda s: any(not w.alive and not w.final for w in s.workers), 15)
        assert alive(gone) == 3 and "1 gone" in __import__("genmon.model").model.header_line(gone)
        watcher.set_generator("numbers", False)
        wait_settled(watcher, limit=60.0)
        time.sleep(8)  # the group rebalances: the killed worker's partitions are read again
        final = watcher.snapshot(fresh=True)
        verdict = final.pipeline("numbers").verdict
        assert verdict.state in (VerdictState.PAUSED, VerdictState.UNVERIFIABLE) or dropped_by_faust(
            final.pipeline("numbers")
        ), verdict

        # A watcher started late sees the same counts, from the workers' newest reports; recorded,
        # its replay is the same document, the workers panel's three workers included.
        recording = tmp_path / "watch.genmon"
        watch = [sys.executable, "-m", "genmon", "watch", "-b", broker.url, "--app-id", app_id, *HEADLESS]
        late_watch = subprocess.run(
            [*watch, "--record", str(recording)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        assert late_watch.returncode == 0, late_watch.stderr
        seen = json.loads(late_watch.stdout)
        (row,) = [p for p in seen["pipelines"] if p["name"] == "numbers"]
        now = watcher.snapshot().pipeline("numbers").counts
        assert row["counts"] == {stage: now[stage] for stage in row["counts"]}
        assert sum(1 for w in seen["workers"] if w["alive"]) == 3
        replayed = subprocess.run(
            [sys.executable, "-m", "genmon", "replay", str(recording), "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert replayed.returncode == 0, replayed.stderr
        assert json.loads(replayed.stdout) == seen
        recording.unlink()

        # A clean stop: every remaining worker says goodbye in a final report.
        codes = fleet.stop()
        assert [codes[i] for i in (0, 2, 3)] == [0, 0, 0], codes
        stopped = wait_for(watcher, lambda s: sum(1 for w in s.workers if w.final) == 3, 15)
        assert sum(1 for w in stopped.workers if w.final) == 3
        for log in tmp_path.glob("w*.log"):  # genmon's stop never breaks the app's producer
            text = log.read_text(errors="replace")
            assert "NotReady" not in text and "genmon could not attach" not in text, log.name
    finally:
        watcher.stop()


@pytest.mark.brokers("kafka")  # the embedded broker creates a topic when a consumer asks for it
def test_a_fleet_whose_topic_a_first_send_created_is_stuck_and_says_why(
    broker: BrokerProcess, app_id: str, tmp_path: Path
) -> None:
    """Two workers subscribe before their topic exists; the first send creates it with the broker's
    default of 1 partition (the app declares 4). No consumer is assigned it until a metadata refresh
    minutes later: the values are stuck, not lost and not "unverifiable", and the count is named."""
    assert broker.address is not None
    watcher = Watcher(broker.address, accept=lambda r: any(a.app_id == app_id for a in r.apps)).start()
    running = Fleet(broker, app_id, tmp_path)  # no topic created first
    try:
        for _ in range(2):
            running.start()
        snap = wait_for(
            watcher,
            lambda s: bool(s.pipelines) and s.pipeline("numbers").verdict.state == VerdictState.STUCK,
            90,
        )
    finally:
        running.stop()
        watcher.stop()
    pipe = snap.pipeline("numbers")
    topic = f"{app_id}-numbers"
    assert pipe.verdict.cause == "unassigned" and pipe.counts.received == 0, pipe.verdict
    assert f"{topic} is assigned to no consumer of {app_id}" in pipe.verdict.text
    assert "on the broker it has 1 partition, the app declares 4" in pipe.verdict.text
    (app,) = snap.apps
    assert app.mismatched == (f"{topic}: on the broker it has 1 partition, the app declares 4",)
    assert "--create-topics" in snap.diagnose(pipe).fix


@pytest.mark.brokers("embedded")  # the watcher's decoding: no broker behaviour in it
def test_hostile_records_on_the_reports_topic_change_nothing_and_are_counted(
    broker: BrokerProcess, app_id: str
) -> None:
    """A report, then garbage, a zlib bomb, deep nesting and a report with a wrong field under the
    same key: the watcher keeps running, the pipeline keeps the counts of the one real report, and
    each hostile record is counted as rejected."""
    import zlib

    from genmon.fleet.channel import REPORTS
    from genmon.model.wire import ZDICT, encode

    assert broker.address is not None
    real = one_row_report(app_id, 1, 30, time.time())

    def packed(raw: bytes) -> bytes:
        packer = zlib.compressobj(9, zdict=ZDICT)
        return packer.compress(raw) + packer.flush()

    bomb = zlib.compressobj(9, zdict=ZDICT)
    chunk = b" " * (16 * 2**20)
    bomb_bytes = bomb.compress(b'{"format": 2, "pad": "') + b"".join(bomb.compress(chunk) for _ in range(16))
    bomb_bytes += bomb.flush()  # ~256 KB that inflates to 256 MB
    wrong = json.loads(zlib.decompressobj(zdict=ZDICT).decompress(encode(real)))
    wrong["number"], wrong["sources"][0]["seq"] = 2, "thirty"
    hostile = [
        b"\x00garbage",
        bomb_bytes,
        packed(b"[" * 100_000 + b"]" * 100_000),
        packed(json.dumps(wrong).encode()),
    ]

    async def produce(values: list[bytes]) -> None:
        from aiokafka import AIOKafkaProducer

        producer = AIOKafkaProducer(bootstrap_servers=broker.address.bootstrap, max_request_size=4 * 2**20)
        await producer.start()
        try:
            for value in values:
                await producer.send_and_wait(REPORTS, value, key=real.key)
        finally:
            await producer.stop()

    watcher = Watcher(broker.address, accept=lambda r: any(a.app_id == app_id for a in r.apps)).start()
    try:
        asyncio.run(produce([encode(real), *hostile]))
        snap = wait_for(watcher, lambda s: s.rejected_reports >= len(hostile), 30)
        assert snap.rejected_reports == len(hostile)
        assert snap.pipeline("numbers").counts.as_tuple() == (30,) * 5
        assert watcher.snapshot(fresh=True).pipeline("numbers").counts.processed == 30  # still reading
    finally:
        watcher.stop()


@pytest.mark.brokers("embedded")  # signing is the workers' and the watcher's: no broker behaviour in it
def test_with_a_secret_forged_and_replayed_switches_and_forged_reports_change_nothing(
    broker: BrokerProcess, app_id: str, fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers and watcher share GENMON_SECRET. A switch written by someone without it (unsigned, or
    signed with another secret) is obeyed by no worker; an old signed switch written again changes
    nothing; a forged report is not merged and is counted as unverified."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    from genmon.fleet.channel import CONTROL, REPORTS
    from genmon.fleet.signing import Signer
    from genmon.model.control_record import ControlRecord
    from genmon.model.wire import WorkerReport, encode

    monkeypatch.setenv("GENMON_SECRET", "fleet-secret")  # the workers inherit it, the watcher reads it
    assert broker.address is not None
    bootstrap = broker.address.bootstrap
    watcher = Watcher(broker.address, accept=lambda r: any(a.app_id == app_id for a in r.apps)).start()

    async def produce(topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]] | None) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topic, value, key=key, headers=headers)
        finally:
            await producer.stop()

    async def signed_on_record() -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
        consumer = AIOKafkaConsumer(CONTROL, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
        await consumer.start()
        try:
            while True:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for r in records:
                        if r.key == f"{app_id}/numbers".encode() and b'"on": true' in r.value:
                            return r.key, r.value, list(r.headers)
        finally:
            await consumer.stop()

    def all_on(want: bool) -> bool:
        reports = own_reports(watcher)
        return len(reports) == 2 and all(on is want for on, _ in reports.values())

    try:
        for _ in range(2):
            fleet.start()
        wait_for(
            watcher,
            lambda s: (
                all_on(True) and any(p.name == "numbers" and p.counts.processed > 50 for p in s.pipelines)
            ),
            90,
        )
        watcher.set_generator("numbers", True)  # a signed "on", to replay later
        key, value, headers = asyncio.run(asyncio.wait_for(signed_on_record(), 30))
        # forged: unsigned, and signed with another secret — no worker obeys either
        forged = ControlRecord(app_id, "numbers", False, time.time_ns())
        asyncio.run(produce(CONTROL, forged.key, forged.encode(), None))
        other = Signer(b"not-the-fleet-secret")
        asyncio.run(produce(CONTROL, forged.key, forged.encode(), other.headers(forged.key, forged.encode())))
        time.sleep(4)
        assert all_on(True), own_reports(watcher)
        # the real switch, made by the watcher with the secret: obeyed by both
        watcher.set_generator("numbers", False)
        wait_for(watcher, lambda s: all_on(False), 15)
        assert all_on(False), own_reports(watcher)
        # the old signed "on" written again: it verifies, but it is older than "off"
        asyncio.run(produce(CONTROL, key, value, headers))
        time.sleep(4)
        assert all_on(False), own_reports(watcher)
        # a forged report: a worker nobody runs
        apps = next(iter(watcher.fleet.heard.values())).report.apps
        fake = WorkerReport(
            worker=f"evil:9:{app_id}",
            host="evil",
            pid=9,
            started=time.time(),
            at=time.time(),
            number=1,
            apps=apps,
        )
        asyncio.run(produce(REPORTS, fake.key, encode(fake), None))
        after = wait_for(watcher, lambda s: s.unverified_reports.get("unsigned", 0) >= 1, 15)
        assert after.unverified_reports.get("unsigned", 0) >= 1
        assert all(w.name != "evil:9" for w in after.workers)
        assert "✗ unverified reports: " in header_line(after)
    finally:
        watcher.stop()


@pytest.mark.brokers("embedded")  # the watcher's reading of its topic: no broker behaviour in it
def test_a_watcher_started_after_a_long_run_merges_its_history_before_anything_is_judged(
    broker: BrokerProcess, app_id: str
) -> None:
    """Thirty worker runs of an hour ago, each a checkpoint, deltas, a checkpoint again and more
    deltas (more records than the history is pruned at), a record under one worker's key that is
    not a report after its newest checkpoint: once ``catch_up`` returns every run is merged at its
    newest report, the counts are every run's values, nothing is missed — the same as a watcher
    that folded every record — and the hostile record is counted and hid nothing."""

    from genmon.fleet import watcher as watching
    from genmon.fleet.channel import REPORTS, ensure_topics
    from genmon.model.delta import delta_of
    from genmon.model.wire import WorkerReport, encode

    assert broker.address is not None
    runs, deltas, every = 30, 80, 3
    long_ago = time.time() - 3000

    def report(run: int, number: int, values: int, final: bool = False) -> WorkerReport:
        at = long_ago + run * 60
        return one_row_report(app_id, run, values, at + number * 0.5, number, final, started=at)

    records: list[tuple[bytes, bytes]] = []
    for run in range(1, runs + 1):
        base = report(run, 1, every)
        records.append((base.key, encode(base)))
        for number in range(2, deltas + 2):
            now = report(run, number, every * number, final=run % 2 == 0 and number == deltas + 1)
            if number == deltas // 2:
                base = now  # a checkpoint mid-run: what came before it is not needed
                records.append((now.key, encode(now)))
            else:
                delta = delta_of(base, now, number)
                records.append((delta.key, encode(delta)))
                base = now
        if run == 7:
            records.append((base.worker.encode(), b"\x00not a report"))
    assert len(records) > watching.HISTORY_PRUNE_RECORDS

    async def produce() -> None:
        from aiokafka import AIOKafkaProducer

        await ensure_topics(broker.address)  # one partition, as every worker makes it
        producer = AIOKafkaProducer(bootstrap_servers=broker.address.bootstrap, linger_ms=20)
        await producer.start()
        try:
            sent = [await producer.send(REPORTS, value, key=key) for key, value in records]
            await asyncio.gather(*sent)
        finally:
            await producer.stop()

    earlier = Watcher(broker.address).start()  # what earlier tests left on the session's topic
    try:
        earlier.catch_up()
        rejected_before = earlier.fleet.rejected
    finally:
        earlier.stop()
    asyncio.run(produce())

    def merged(prune_at: int) -> tuple[Watcher, Snapshot, float]:
        watcher = Watcher(broker.address, accept=lambda r: any(a.app_id == app_id for a in r.apps))
        watcher._prune_at = prune_at
        watcher.start()
        took = watcher.catch_up()
        assert watcher.history() is None
        return watcher, watcher.snapshot(fresh=True), took

    pruned, snap, _ = merged(watching.HISTORY_PRUNE_RECORDS)
    whole, whole_snap, _ = merged(10**9)  # every record folded, nothing pruned
    try:
        for watcher in (pruned, whole):
            ours = {
                w: h
                for w, h in watcher.fleet.heard.items()
                if w.endswith(tuple(f"-{r}" for r in range(runs + 1)))
            }
            assert len(ours) == runs
            assert {h.report.number for h in ours.values()} == {deltas + 1}
            assert sum(h.report.final for h in ours.values()) == runs // 2
            assert watcher.fleet.missed == 0
            assert watcher.fleet.rejected == rejected_before + 1
        pipe = snap.pipeline("numbers")
        assert pipe.counts.as_tuple() == (runs * every * (deltas + 1),) * 5
        assert pipe.counts.as_tuple() == whole_snap.pipeline("numbers").counts.as_tuple()
        assert pipe.verdict.state == whole_snap.pipeline("numbers").verdict.state
        assert [w.alive for w in snap.workers] == [w.alive for w in whole_snap.workers]
        assert not any(w.alive for w in snap.workers)  # an hour ago: gone or stopped, and said so
    finally:
        pruned.stop()
        whole.stop()


def one_row_report(
    app_id: str,
    run: int,
    values: int,
    at: float,
    number: int = 1,
    final: bool = False,
    started: float | None = None,
) -> Any:
    """Worker run ``run``'s report of one row, ``numbers``, whose values 1…``values`` went all the way."""
    from pyroaring import FrozenBitMap

    from genmon.model import AppReading, AppState, RowKind, SourceState
    from genmon.model.wire import WorkerReport

    ids = FrozenBitMap(range(1, values + 1))
    return WorkerReport(
        worker=f"host:{run}:{app_id}-{run}",
        host="host",
        pid=run,
        started=at if started is None else started,
        at=at,
        number=number,
        final=final,
        apps=(AppReading("app0", app_id, AppState.RUNNING, readers={"t": ("agent",)}),),
        sources=(
            SourceState(
                name="numbers",
                function="app.numbers",
                kind=RowKind.ASYNC,
                owner="app0",
                seq=values,
                token=f"tok{run}",
                sent=ids,
                acked=ids,
                received=ids,
                processed={("t", "agent"): ids},
                topics=("t",),
                agents=("agent",),
            ),
        ),
    )
