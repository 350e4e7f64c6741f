"""Chaos on a real Apache Kafka: a fleet of ``faust worker`` processes with genmon attached, faults
injected on a schedule, and genmon's verdict checked against what the app itself recorded.

    python scripts/chaos.py [--minutes 60] [--workers 3] [--rate 40] [--every 60] [--seed 1]
                            [--broker kafka://HOST:PORT]

Without ``--broker`` it runs a local Apache Kafka (``genmon kafka``'s: Java 17 and Maven). The app
(``scripts/chaos_app.py``) has two hops — a tracked generator of numbers, an agent that forwards
each doubled, an agent that finishes them — and writes every event it finished, with the
``genmon-id`` it carried, to a file per worker: the truth. A watcher (``genmon watch --headless``,
its own process) follows the fleet the whole time. Every ``--every`` seconds, in turn:

* ``kill -9`` of a random worker, started again 5 s later;
* a graceful restart of a random worker (SIGTERM, then started again);
* a restart of the broker, keeping its storage (only the local one: an external broker is left alone);
* a restart of the watcher.

At the end the generators are switched off over the control topic, the fleet drains, and a fresh
watcher's reading is compared, value by value, with the truth:

* **false losses** — values genmon calls lost that the app did finish (must be 0);
* **missed losses** — values the app never finished that genmon calls neither lost nor unverifiable
  (must be 0);
* **counted, never finished** — values genmon counts processed that no truth line names (must be 0);
* **unverifiable** — values a worker killed without a final report may have held: genmon says it
  cannot know, and names the worker;
* duplicates (values the app finished twice, after a kill: redeliveries, never losses), the memory
  of the watcher and the workers at the start and the end, and the processes left behind.

Exit status 0 when every must-be-0 is 0, memory stayed within ``MEMORY_GROWTH`` and nothing was left
running; 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from pyroaring import BitMap64

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from genmon.broker import KafkaBroker  # noqa: E402
from genmon.broker.address import BrokerAddress, parse_broker_url  # noqa: E402
from genmon.fleet.watcher import Watcher  # noqa: E402
from genmon.model import Proof, RowKind, SourceState, Stage, VerdictState  # noqa: E402
from genmon.model.ids import finished_by_all  # noqa: E402
from genmon.model.vocabulary import STAGES  # noqa: E402
from genmon.watch.waiting import wait_settled  # noqa: E402

ROWS = (("numbers", "double"), ("double()", "tally"))
"""Each row genmon shows, and the agent whose truth lines say which of its values were finished."""
RESTART_AFTER = 5.0
WATCHER_SETTLED = 20.0
"""A watcher process younger than this is not measured (it may still be starting or reading)."""
MEMORY_GROWTH = 1.5
"""Memory at the end may be at most this many times that at the start, plus ``MEMORY_SLACK_MB``."""
MEMORY_SLACK_MB = 40.0
WARMUP = 20.0


@dataclass
class Worker:
    slot: int
    process: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)


@dataclass
class Run:
    args: argparse.Namespace
    workdir: Path
    broker_url: str
    app_id: str
    truth: Path
    workers: list[Worker] = field(default_factory=list)
    watcher: subprocess.Popen[bytes] | None = None
    faults: dict[str, int] = field(default_factory=dict)
    catch_up: tuple[float, int] = (0.0, 0)
    """How long the judging watcher took to merge the reports already on the topic, and how many."""
    memory: dict[str, list[float]] = field(default_factory=dict)
    watcher_started: float = 0.0
    watcher_peaks: list[float] = field(default_factory=list)
    """The memory of each watcher process at the end of its life (that lived ``WATCHER_SETTLED``)."""
    pids: set[int] = field(default_factory=set)
    """Every process this run started (to find any left behind)."""

    # -- processes ------------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                [str(ROOT / "scripts"), str(ROOT), os.environ.get("PYTHONPATH", "")]
            ),
            "GENMON_BROKER": "app",
            "CHAOS_APP_ID": self.app_id,
            "CHAOS_BROKER": self.broker_url,
            "CHAOS_RATE": str(self.args.rate),
            "CHAOS_TRUTH": str(self.truth),
            "CHAOS_DATADIR": str(self.workdir / "data"),
        }

    def start_worker(self, slot: int) -> Worker:
        log = open(self.workdir / f"worker-{slot}.log", "ab")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "faust", "-A", "chaos_app", "worker", "--without-web", "-l", "warn"],
            cwd=self.workdir,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.pids.add(process.pid)
        worker = Worker(slot, process)
        self.workers = [w for w in self.workers if w.slot != slot] + [worker]
        return worker

    def start_watcher(self) -> None:
        log = open(self.workdir / "watcher.log", "ab")  # noqa: SIM115
        self.watcher_started = time.monotonic()
        self.watcher = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "genmon",
                "watch",
                "--headless",
                "--json",
                "-b",
                self.broker_url,
                "--app-id",
                self.app_id,
                "--duration",
                str(self.args.minutes * 120 + 600),
            ],
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        self.pids.add(self.watcher.pid)

    def stop_watcher(self) -> None:
        if self.watcher is not None and self.watcher.poll() is None:
            self.watcher.send_signal(signal.SIGINT)
            try:
                self.watcher.wait(20)
            except subprocess.TimeoutExpired:
                self.watcher.kill()
                self.watcher.wait()

    def stop_worker(self, worker: Worker, sig: int = signal.SIGTERM, timeout: float = 40.0) -> None:
        if worker.process.poll() is None:
            worker.process.send_signal(sig)
            try:
                worker.process.wait(timeout)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()

    # -- memory ---------------------------------------------------------------------------------
    def note_watcher(self) -> None:
        """The current watcher's memory, if it has run long enough to have read the history and
        merged reports since (one just restarted holds nothing yet)."""
        alive = self.watcher is not None and self.watcher.poll() is None
        if alive and time.monotonic() - self.watcher_started >= WATCHER_SETTLED:
            assert self.watcher is not None
            self.watcher_peaks.append(rss_mb(self.watcher.pid))

    def note_memory(self, when: str) -> None:
        """Each process's memory at the start and at the end; the watcher's at the end is the
        largest any of its processes had at the end of its life (see :meth:`note_watcher`)."""
        procs = [(f"worker {w.slot}", w.process) for w in self.workers]
        if when == "start":
            procs.append(("watcher", self.watcher))
        else:
            self.note_watcher()
            if self.watcher_peaks and "watcher" in self.memory:
                self.memory["watcher"].append(max(self.watcher_peaks))
        for name, proc in procs:
            rss = rss_mb(proc.pid) if proc is not None and proc.poll() is None else 0.0
            if rss:  # a slot between two processes (restarting) has nothing to measure
                self.memory.setdefault(name, []).append(rss)


def rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def create_topics(bootstrap: str, app_id: str) -> None:
    async def create() -> None:
        from aiokafka.admin import AIOKafkaAdminClient, NewTopic

        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(f"{app_id}-{name}", 6, 1) for name in ("numbers", "doubled")])
        finally:
            await admin.close()

    asyncio.run(create())


# -- the truth ---------------------------------------------------------------------------------------
def read_truth(folder: Path) -> dict[str, dict[tuple[str, int], int]]:
    """agent -> (token, id) -> how many times it finished that value (a line being written is skipped)."""
    finished: dict[str, dict[tuple[str, int], int]] = {agent: {} for _, agent in ROWS}
    for path in folder.glob("*.log"):
        for line in path.read_text(errors="replace").splitlines():
            agent, _, header = line.partition(" ")
            name_token, _, rest = header.rpartition(":")[0].rpartition(":")
            token = name_token.rpartition("@")[2]
            if agent in finished and rest.isdigit() and token:
                key = (token, int(rest))
                finished[agent][key] = finished[agent].get(key, 0) + 1
    return finished


@dataclass
class Judged:
    row: str
    values: int
    finished: int
    false_losses: int
    missed: int
    counted_not_finished: int
    unseen: int
    """Values the app finished whose yield genmon never heard of (a worker whose reports stopped)."""
    unverifiable: int
    duplicates_truth: int
    duplicates_genmon: int
    verdict: str


def _at(src: SourceState, stage: Stage, expected: BitMap64, done: BitMap64) -> BitMap64:
    """The ids a row's merged reading has at ``stage`` (lifted as its rows are)."""
    ids = {Stage.SENT: src.sent, Stage.ACKED: src.acked, Stage.RECEIVED: src.received}.get(stage)
    return expected if stage == Stage.YIELDED else done if stage == Stage.PROCESSED else BitMap64(ids)


def judge(watcher: Watcher, truth: dict[str, dict[tuple[str, int], int]]) -> list[Judged]:
    """Each row's verdict against the truth, value by value (ids lifted as the fleet's rows are)."""
    reading = watcher.merged()
    snap = watcher.snapshot(fresh=True)
    numbers = {h.report.worker.rsplit(":", 1)[1]: h.number for h in watcher.fleet.heard.values()}
    out = []
    for row, agent in ROWS:
        src = next((s for s in reading.sources if s.name == row and not s.foreign), None)
        if src is None:
            raise SystemExit(
                f"chaos: the watcher saw no row {row} (rows: {[p.name for p in snap.pipelines]})"
            )
        pipe = snap.pipeline(row)
        lifted = src.expected is not None

        def key(token: str, seq: int, lifted: bool = lifted, own: str = src.token) -> int | None:
            if not lifted:
                return seq if token == own else None
            number = numbers.get(token)
            return None if number is None else number << 32 | seq

        expected = (
            BitMap64(src.expected)
            if src.expected is not None
            else BitMap64(range(src.floor + 1, src.seq + 1))
        )
        finished = BitMap64()
        duplicates = 0
        unseen = 0
        for (token, seq), times in truth[agent].items():
            lifted_id = key(token, seq)
            if lifted_id is not None and lifted_id in expected:
                finished.add(lifted_id)
                duplicates += times - 1
            elif row == "numbers" or token in numbers:
                unseen += 1  # finished by the app, never reported yielded: genmon lost sight of it
        done = finished_by_all((topic, ids) for (topic, _), ids in src.processed.items())
        done64 = BitMap64(done) if done is not None else BitMap64()
        never = expected - finished
        named = BitMap64()
        for ids in src.damaged.values():
            named |= BitMap64(ids)
        verdict = pipe.verdict
        if verdict.state == VerdictState.LOST and verdict.proof != Proof.SEEN and verdict.stage is not None:
            # a loss judged from a stage gone quiet: every value missing at that stage is called lost
            named |= _at(src, STAGES[STAGES.index(verdict.stage) - 1], expected, done64) - _at(
                src, verdict.stage, expected, done64
            )
        also = verdict.also
        if also is not None and also.state == VerdictState.LOST:
            named |= expected - done64  # beside the seen loss, every value not finished is called lost
        doubted = VerdictState.UNVERIFIABLE in (verdict.state, also.state if also is not None else None)
        unverifiable = len(never - named) if doubted else 0
        missed = 0 if doubted else len(never - named)
        out.append(
            Judged(
                row=row,
                values=len(expected),
                finished=len(finished),
                false_losses=len(named & finished),
                missed=missed,
                counted_not_finished=len(done64 - finished),
                unseen=unseen,
                unverifiable=unverifiable,
                duplicates_truth=duplicates,
                duplicates_genmon=pipe.duplicates.get(Stage.PROCESSED, 0),
                verdict=verdict.text,
            )
        )
    return out


# -- the run -----------------------------------------------------------------------------------------
def inject(run: Run, fault: str, rng: random.Random, broker: KafkaBroker | None) -> str:
    """One fault; returns what was done, for the log."""
    if fault == "kill -9":
        worker = rng.choice(run.workers)
        run.stop_worker(worker, signal.SIGKILL)
        time.sleep(RESTART_AFTER)
        run.start_worker(worker.slot)
        return f"kill -9 worker {worker.slot} (pid {worker.process.pid}), started again"
    if fault == "graceful restart":
        worker = rng.choice(run.workers)
        run.stop_worker(worker)
        run.start_worker(worker.slot)
        return f"worker {worker.slot} stopped (SIGTERM, status {worker.process.returncode}) and started again"
    if fault == "broker restart":
        assert broker is not None
        broker.bounce()
        return "broker restarted (storage kept)"
    run.note_watcher()  # its memory after a life of reading (the restarted one starts afresh)
    run.stop_watcher()
    run.start_watcher()
    return "watcher restarted"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--rate", type=float, default=40.0, help="values/s each worker's generator yields")
    parser.add_argument("--every", type=float, default=60.0, help="seconds between faults")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--broker", help="kafka://HOST:PORT of your own broker (default: a local Kafka)")
    parser.add_argument("--keep", action="store_true", help="keep the run's folder (logs, truth)")
    parser.add_argument(
        "--faults",
        default="kill -9,graceful restart,broker restart,watcher restart",
        help="the kinds to inject, a comma list (default: all four)",
    )
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="genmon-chaos-"))
    (workdir / "truth").mkdir()
    broker = None if args.broker else KafkaBroker(log_path=workdir / "kafka.log", ready_timeout=120)
    started = time.monotonic()
    run: Run | None = None
    try:
        if broker is not None:
            broker.start()
        url = args.broker or broker.url  # type: ignore[union-attr]
        run = Run(args, workdir, url, f"chaos-{uuid.uuid4().hex[:6]}", workdir / "truth")
        address = parse_broker_url(url)
        create_topics(address.bootstrap, run.app_id)
        for slot in range(1, args.workers + 1):
            run.start_worker(slot)
        run.start_watcher()
        say(
            f"{run.app_id} on {url}: {args.workers} workers at {args.rate:g} values/s each, "
            f"a fault every {args.every:g}s, for {args.minutes:g} min"
        )
        time.sleep(WARMUP)
        dead = [w for w in run.workers if w.process.poll() is not None]
        if dead:
            raise SystemExit(
                f"chaos: worker {dead[0].slot} exited at start: see {workdir}/worker-{dead[0].slot}.log"
            )
        run.note_memory("start")
        kinds = [kind.strip() for kind in args.faults.split(",") if kind.strip()]
        if broker is None and "broker restart" in kinds:
            kinds.remove("broker restart")
        rng.shuffle(kinds)
        end = time.monotonic() + args.minutes * 60  # faults for the whole time asked, after the warm-up
        turn = 0
        while time.monotonic() + args.every < end:
            time.sleep(args.every)
            fault = kinds[turn % len(kinds)]
            turn += 1
            say(f"{int(time.monotonic() - started):>5}s  {inject(run, fault, rng, broker)}")
            run.faults[fault] = run.faults.get(fault, 0) + 1
        time.sleep(max(0.0, end - time.monotonic()))
        run.note_memory("end")
        verdicts, still = settle_and_judge(run, address)
        left = stop_all(run, broker)
        broker = None
        return report(run, verdicts, still, left, time.monotonic() - started)
    finally:
        if run is not None:  # an error on the way: nothing may be left running
            run.stop_watcher()
            for worker in run.workers:
                run.stop_worker(worker, signal.SIGKILL, 5)
        if broker is not None:
            broker.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            say(f"kept: {workdir}")


def settle_and_judge(run: Run, address: BrokerAddress) -> tuple[list[Judged], tuple[str, ...]]:
    """Switch the generators off, let the fleet drain, and judge with a watcher started now (it
    rebuilds the fleet's state from the reports on the broker, as any watcher would)."""
    watcher = Watcher(
        address, accept=lambda report: any(app.app_id == run.app_id for app in report.apps)
    ).start()
    try:
        run.catch_up = watcher.catch_up(say), watcher.received_messages
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            snap = watcher.snapshot()
            if {"numbers", "double()"} <= {p.name for p in snap.pipelines if p.kind != RowKind.TOPIC}:
                break
            time.sleep(0.5)
        watcher.set_all(False)
        drained = wait_settled(watcher, limit=120)
        return judge(watcher, read_truth(run.truth)), drained.draining
    finally:
        watcher.stop()


def stop_all(run: Run, broker: KafkaBroker | None) -> list[str]:
    """Stop everything; the processes this run started that are still there afterwards."""
    run.stop_watcher()
    for worker in run.workers:
        run.stop_worker(worker)
    if broker is not None:
        run.pids.add(broker.pid() or 0)
        broker.stop()
    time.sleep(1)
    left = []
    for pid in sorted(run.pids):
        with contextlib.suppress(OSError):
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
            if state != "Z":
                left.append(f"{pid} ({Path(f'/proc/{pid}/cmdline').read_text().replace(chr(0), ' ')[:60]})")
    return left


def report(run: Run, verdicts: list[Judged], still: tuple[str, ...], left: list[str], seconds: float) -> int:
    rows = [
        ("minutes", f"{seconds / 60:.1f}"),
        ("faults", ", ".join(f"{kind} x{n}" for kind, n in sorted(run.faults.items())) or "none"),
        ("judging watcher: history read", f"{run.catch_up[1]:,} reports in {run.catch_up[0]:.1f} s"),
    ]
    ok = not left and not still
    for v in verdicts:
        rows += [
            (f"{v.row}: values", f"{v.values:,} (finished by the app: {v.finished:,})"),
            (f"{v.row}: false losses", f"{v.false_losses}"),
            (f"{v.row}: missed losses", f"{v.missed}"),
            (f"{v.row}: counted, never finished", f"{v.counted_not_finished}"),
            (f"{v.row}: finished, never seen yielded", f"{v.unseen:,}"),
            (f"{v.row}: unverifiable", f"{v.unverifiable:,}"),
            (f"{v.row}: finished twice (app / genmon)", f"{v.duplicates_truth:,} / {v.duplicates_genmon:,}"),
            (f"{v.row}: verdict", v.verdict),
        ]
        ok = ok and v.false_losses == 0 and v.missed == 0 and v.counted_not_finished == 0 and v.unseen == 0
    for name, samples in sorted(run.memory.items()):
        if len(samples) == 2:
            first, last = samples
            grew = last > first * MEMORY_GROWTH + MEMORY_SLACK_MB
            ok = ok and not grew
            lives = f" (end: the largest of {len(run.watcher_peaks)} processes)" if name == "watcher" else ""
            rows.append((f"memory {name} (MB)", f"{first:.0f} → {last:.0f}{lives}{'  GREW' if grew else ''}"))
    rows.append(("still draining at the end", ", ".join(still) or "none"))
    rows.append(("processes left", ", ".join(left) or "0"))
    width = max(len(name) for name, _ in rows)
    print()
    print("| what | measured |")
    print("|---|---|")
    for name, value in rows:
        print(f"| {name:<{width}} | {value} |")
    print(f"\nchaos: {'passed' if ok else 'FAILED'}")
    print(json.dumps({"ok": ok, "verdicts": [v.__dict__ for v in verdicts], "faults": run.faults}))
    return 0 if ok else 1


def say(line: str) -> None:
    print(f"chaos: {line}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
