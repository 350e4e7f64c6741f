"""A fake :class:`genmon.model.Monitor` that serves hand-built snapshots, for screen tests.

The snapshots come from the real, pure ``genmon.model.build``, fed with readings written here:
only the Faust apps and the broker are missing, so screen tests run in seconds.
"""

from __future__ import annotations

from dataclasses import replace

from pyroaring import FrozenBitMap, FrozenBitMap64

from genmon.model import (
    AckLog,
    AppReading,
    AppState,
    BrokerInfo,
    Cause,
    Clocks,
    Counts,
    LoopStalls,
    Made,
    NotSwitchable,
    Reading,
    Refused,
    RowKind,
    Snapshot,
    SourceState,
    UnknownPipeline,
    build,
)
from genmon.model.path import ValuePath, value_path

LOG_PATH = "/tmp/genmon-0/genmon-4242.log"


def ids(first: int, last: int) -> FrozenBitMap:
    return FrozenBitMap(range(first, last + 1))


def source(
    name: str,
    yielded: int,
    *,
    sent: int | None = None,
    received: int | None = None,
    topic: str | None = None,
    agent: str | None = None,
    kind: RowKind = RowKind.ASYNC,
    on: bool = True,
    owner: str = "app0",
    damaged: dict[Cause, FrozenBitMap] | None = None,
) -> SourceState:
    """A source whose values all reached ``sent`` then ``received`` (then were all processed)."""
    sent = yielded if sent is None else sent
    received = sent if received is None else received
    processed = ids(1, received) - (damaged or {}).get(Cause.CRASHED, FrozenBitMap())
    return SourceState(
        name=name,
        function=f"demo.{name.replace('-', '_')}",
        kind=kind,
        on=on,
        owner=owner,
        seq=yielded,
        sent=ids(1, sent),
        acked=ids(1, sent),
        received=ids(1, received),
        processed={(topic, agent): FrozenBitMap(processed)} if topic and agent and received else {},
        damaged=damaged or {},
        topics=(topic,) if topic and sent else (),
        agents=(agent,) if agent and received else (),
        latency_ms={"count": float(received), "p50": 512.0, "p95": 980.0, "p99": 1003.0, "max": 1010.0}
        if received
        else {},
    )


def demo_reading(now: float = 100.0) -> Reading:
    """The demo's three pipelines, the moment the unwired one is lost at sent."""
    return Reading(
        now=now,
        broker=BrokerInfo("kafka://127.0.0.1:41873", embedded=True, up=True),
        apps=(AppReading("app0", "genmon-demo", AppState.RUNNING, readers={"sync_topic": ("sync_agent",)}),),
        sources=(
            source("unwired", 212, sent=0),
            source("sync-pump", 212, topic="sync_topic", agent="sync_agent", kind=RowKind.SYNC),
            source("async-pump", 80, topic="async_topic", agent="async_agent", on=False),
        ),
        settle_seconds=5.0,
        log_path=LOG_PATH,
        uptime=25.0,
    )


def settled(reading: Reading) -> Snapshot:
    """The snapshot of ``reading`` after its counts stood still for longer than the settle timeout."""
    clocks = Clocks(reading.settle_seconds)
    _, clocks = build(replace(reading, now=reading.now - 10), clocks)
    snap, _ = build(reading, clocks)
    return snap


class FakeMonitor:
    """Serves one snapshot; commands change it the way a host would (switches), or refuse; a value's
    path comes from ``reading`` (the one the snapshot was built from) through the real model."""

    def __init__(self, snapshot: Snapshot, reading: Reading | None = None) -> None:
        self.snap = snapshot
        self.reading = reading
        self.commands: list[tuple[str, ...]] = []

    def path(self, row: str, seq: int) -> ValuePath:
        if self.reading is None:
            raise Refused("this fake keeps no reading")
        return value_path(self.reading, self.snap, row, seq)

    def snapshot(self, fresh: bool = False) -> Snapshot:
        return self.snap

    def set_generator(self, name: str, on: bool) -> None:
        pipe = next((p for p in self.snap.pipelines if p.name == name), None)
        if pipe is None:
            raise UnknownPipeline(f"no pipeline named {name!r}")
        if not pipe.kind.switchable:
            raise NotSwitchable(f"{name} is not a tracked generator; wrap its values with @genmon.track")
        self.commands.append(("set", name, str(on)))
        self._switch(lambda p: p.name == name, on)

    def set_all(self, on: bool) -> None:
        self.commands.append(("all", str(on)))
        self._switch(lambda p: p.kind.switchable, on)

    def reset(self) -> None:
        self.commands.append(("reset",))

    def _switch(self, which, on: bool) -> None:  # type: ignore[no-untyped-def]
        pipes = tuple(replace(p, on=on) if which(p) else p for p in self.snap.pipelines)
        self.snap = replace(self.snap, pipelines=pipes)


def demo_monitor() -> FakeMonitor:
    return FakeMonitor(settled(demo_reading()), demo_reading())


def hops_monitor() -> FakeMonitor:
    """orders → enrich() (drops order 5) → misroute(), which sent orders 7 and 14 to a misspelled
    topic: acked, never received (tests/apps/hopmisnamed.py as its probe reports it)."""
    token = "7f3a"
    orders = replace(source("orders", 20, topic="orders", agent="enrich"), token=token)
    enrich = replace(
        source("enrich()", 19, topic="enriched", agent="misroute", kind=RowKind.SENDER),
        token=token,
    )
    origin = f"orders@{token}"
    at = 1_700_000_000_000_000
    misroute = replace(
        source("misroute()", 19, received=19, topic="routed", agent="bill", kind=RowKind.SENDER),
        token=token,
        received=FrozenBitMap(ids(1, 19) - FrozenBitMap([6, 13])),
        processed={("routed", "bill"): FrozenBitMap(ids(1, 19) - FrozenBitMap([6, 13]))},
        sent_by=(
            by := {"routed": FrozenBitMap(ids(1, 19) - FrozenBitMap([6, 13])), "routd": FrozenBitMap([6, 13])}
        ),
        acked_by=by,
        received_by={"routed": by["routed"]},
        topics=("routed", "routd"),
        made_from=(
            Made(6, 6, origin, 7, at + 6_000, at + 6_000),
            Made(13, 13, origin, 14, at + 13_000, at + 13_000),
        ),
    )
    reading = replace(
        demo_reading(),
        apps=(
            AppReading(
                "app0",
                "genmon-test-hopmisnamed",
                AppState.RUNNING,
                readers={"orders": ("enrich",), "enriched": ("misroute",), "routed": ("bill",)},
            ),
        ),
        sources=(orders, enrich, misroute),
    )
    return FakeMonitor(settled(reading), reading)


def shop_monitor() -> FakeMonitor:
    """examples/shop as genmon reports it: orders → charge, which repartitions by customer (a topic of
    Faust's own, read by charge again) and sends payments, read by ledger; the generator paused."""
    repartition = "shop.app.charge-shop-orders-Order.customer-repartition"
    orders = source("orders", 122, topic="shop-orders", agent="charge", on=False)
    charge = replace(
        source("charge()", 244, topic="shop-payments", agent="ledger", kind=RowKind.SENDER),
        topics=(repartition, "shop-payments"),
        agents=("charge", "ledger"),
        processed={(repartition, "charge"): ids(1, 122), ("shop-payments", "ledger"): ids(123, 244)},
    )
    app = AppReading(
        "app0",
        "shop",
        AppState.RUNNING,
        readers={"shop-orders": ("charge",), repartition: ("charge",), "shop-payments": ("ledger",)},
    )
    reading = replace(demo_reading(), apps=(app,), sources=(orders, charge))
    return FakeMonitor(settled(reading), reading)


def catalogue_monitor() -> FakeMonitor:
    """A catalogue of the demo's bugs in one picture: a generator nobody sends, a crashing agent, a
    wrong topic name, a paused generator, a timer, and correct rows beside them."""
    reading = demo_reading()
    crashing = source(
        "crashing-agent",
        20,
        topic="crash_topic",
        agent="crashing",
        damaged={Cause.CRASHED: FrozenBitMap([7, 14])},
    )
    misnamed = source("wrong-topic", 40, topic="order", agent="?", received=0)
    timer = source("tick()", 9, topic="ticks", agent="tock", kind=RowKind.SENDER)
    readers = {
        "sync_topic": ("sync_agent",),
        "async_topic": ("async_agent",),
        "crash_topic": ("crashing",),
        "orders": ("take_order",),
        "ticks": ("tock",),
    }
    app = replace(reading.apps[0], app_id="genmon-demo", readers=readers)
    reading = replace(reading, apps=(app,), sources=(*reading.sources, crashing, misnamed, timer))
    return FakeMonitor(settled(reading), reading)


def crashed_monitor() -> FakeMonitor:
    reading = demo_reading()
    crashed = AppReading(
        "app1",
        "genmon-demo-agent-without-stream",
        AppState.CRASHED,
        error="TypeError: generator_agent() takes 0 positional arguments but 1 was given",
    )
    reading = replace(
        reading,
        apps=(*reading.apps, crashed),
        sources=(*reading.sources, source("agent-without-stream", 0, owner="app1", kind=RowKind.SYNC)),
    )
    return FakeMonitor(settled(reading))


def lost_monitor() -> FakeMonitor:
    """A crashing agent (ids 7, 14 raised) and a sender row that cannot be switched."""
    reading = demo_reading()
    crashing = source(
        "crashing-agent",
        20,
        topic="crash_topic",
        agent="crashing",
        damaged={Cause.CRASHED: FrozenBitMap([7, 14])},
    )
    timer = source("tick()", 9, topic="ticks", kind=RowKind.SENDER, received=0)
    stalls = LoopStalls(3, 0.41, "12:00:03")
    apps = (replace(reading.apps[0], stalls=stalls),)
    return FakeMonitor(settled(replace(reading, sources=(crashing, timer), apps=apps)))


def skipped_monitor() -> FakeMonitor:
    """A consumer that joined late with ``consumer_auto_offset_reset='latest'``: values 1-12 were on
    the topic before it first read the partition (offset 12), later ones flow — named while flowing."""
    reading = demo_reading()
    signups = replace(
        source("live-signups", 60, topic="signups", agent="welcome", received=60),
        received=FrozenBitMap(range(13, 61)),
        processed={("signups", "welcome"): FrozenBitMap(range(13, 59))},
        acked_at={("signups", 0): AckLog(ids(1, 60), FrozenBitMap64(range(60)))},
    )
    app = replace(
        reading.apps[0],
        readers={"signups": ("welcome",)},
        positions={("signups", 0): (12, 59)},
        offset_reset="latest",
    )
    clocks = Clocks(reading.settle_seconds)
    for back, now in enumerate((reading.now - 10, reading.now - 5, reading.now)):  # flowing all along
        done = replace(signups, processed={("signups", "welcome"): FrozenBitMap(range(13, 57 + back))})
        snap, clocks = build(replace(reading, now=now, sources=(done,), apps=(app,)), clocks)
    return FakeMonitor(snap)


def empty_monitor() -> FakeMonitor:
    return FakeMonitor(settled(replace(demo_reading(), sources=())))


def fleet_monitor() -> FakeMonitor:
    """Three workers of one app, built from real reports by the real merge; w3 fell silent."""
    from genmon.model.merge import Fleet
    from genmon.model.wire import WorkerReport

    readers = {"numbers": ("consume",)}

    def own(token: str, upto: int, received: FrozenBitMap) -> SourceState:
        return replace(
            source("numbers", upto, topic="numbers", agent="consume"),
            token=token,
            received=received,
            processed={("numbers", "consume"): received},
            latency_ms={},
        )

    def seen(token: str, received: FrozenBitMap) -> SourceState:
        return SourceState(
            name="numbers",
            function="?",
            kind=RowKind.ASYNC,
            token=token,
            foreign=True,
            received=received,
            processed={("numbers", "consume"): received},
            agents=("consume",),
        )

    def report(pid: int, *sources: SourceState, at: float = 100.0) -> WorkerReport:
        app = AppReading("app0", "shop", AppState.RUNNING, readers=readers, stalls=LoopStalls())
        return WorkerReport(
            worker=f"pod-{pid}:{pid}:t{pid}",
            host=f"pod-{pid}",
            pid=pid,
            started=0.0,
            at=at,
            number=1,
            apps=(app,),
            sources=sources,
        )

    fleet = Fleet()
    fleet.add(report(11, own("a", 400, ids(1, 200)), seen("b", ids(1, 150))), 99.5)
    fleet.add(report(12, own("b", 300, ids(151, 300)), seen("a", ids(201, 400))), 99.7)
    fleet.add(report(13, own("c", 120, ids(1, 0))), 90.0)
    reading = fleet.reading(100.0, broker=BrokerInfo("kafka://kafka-0:9092", embedded=False, up=True))
    return FakeMonitor(settled(replace(reading, settle_seconds=5.0, log_path=LOG_PATH, uptime=60.0)))


class BusyMonitor(FakeMonitor):
    """``n`` pipelines over ``apps`` apps whose counts all move on every snapshot: the screen's load
    at scale (the screen bench and the busy-screen tests), without a broker. Every 50th row has lost
    values at received, every 70th is paused; the rest are ok and in flight.

    The rows are built once by the real ``build``; each snapshot copies them with counts advanced
    by one tick, so the fake itself costs little of the screen process's CPU."""

    def __init__(self, n: int, apps: int = 1) -> None:
        sources = []
        for i in range(n):
            lost = i % 50 == 7
            sources.append(
                source(
                    f"gen-{i:04d}",
                    100,
                    received=90 if lost else 100,
                    topic=f"topic-{i % 20:02d}",
                    agent=f"agent-{i % 20:02d}",
                    on=i % 70 != 3,
                    owner=f"app{i % apps}",
                )
            )
        reading = replace(
            demo_reading(),
            apps=tuple(AppReading(f"app{a}", f"shop-{a}", AppState.RUNNING) for a in range(apps)),
            sources=tuple(sources),
        )
        super().__init__(settled(reading))
        self.ticks = 0
        self._frames = [self._frame(t) for t in range(1, self.FRAMES + 1)]

    FRAMES = 25
    """Snapshots made in advance and served in turn (counts up one per refresh, for 5 s, then
    again from the start): the fake costs next to nothing per refresh."""

    def _frame(self, t: int) -> Snapshot:
        pipes = tuple(
            replace(p, counts=Counts(*(c + t for c in p.counts.as_tuple()))) if p.on else p
            for p in self.snap.pipelines
        )
        return replace(self.snap, pipelines=pipes)

    def snapshot(self, fresh: bool = False) -> Snapshot:
        self.ticks += 1
        return self._frames[self.ticks % self.FRAMES]


def broker_down_monitor() -> FakeMonitor:
    """The demo's pipelines a while after genmon's embedded broker died with values on their way."""
    from genmon.model import Outage

    outage = Outage("down", 90.0, None, "17:40:03")
    broker = BrokerInfo("kafka://127.0.0.1:41873", embedded=True, up=False, state="down", outages=(outage,))
    reading = replace(
        demo_reading(),
        broker=broker,
        sources=(
            source("sync-pump", 212, topic="sync_topic", agent="sync_agent", kind=RowKind.SYNC, received=198),
            replace(
                source("async-pump", 80, topic="async_topic", agent="async_agent", received=61),
                acked=ids(1, 61),
            ),
        ),
    )
    return FakeMonitor(settled(reading))


def record_a_loss(path: str) -> None:
    """A recording of one worker whose ``numbers`` lose values 16-20 at received: samples every
    second for 12 s — received stops at 15 after 2 s, acked at 20 after 3 s, and the settle timeout
    (5 s) makes the shortfall a loss at 7 s. Written by the real recorder from real fleet readings."""
    from genmon.model.merge import Fleet
    from genmon.model.wire import WorkerReport
    from genmon.watch.recorder import Recorder

    recorder = Recorder(path)
    fleet = Fleet()
    fleet.recorder = recorder
    broker = BrokerInfo("kafka://127.0.0.1:41873", embedded=True, up=True)
    app = AppReading("app0", "recorded", AppState.RUNNING, readers={"numbers": ("consume",)})
    for second in range(13):
        yielded = min(5 * (second + 1), 20)
        got = min(yielded, 15)
        src = SourceState(
            name="numbers",
            function="recorded.produce",
            kind=RowKind.ASYNC,
            owner="app0",
            seq=yielded,
            token="tok",
            sent=ids(1, yielded),
            acked=ids(1, yielded),
            received=ids(1, got),
            processed={("numbers", "consume"): ids(1, got)},
            topics=("numbers",),
            agents=("consume",),
        )
        report = WorkerReport(
            "host:1:tok", "host", 1, 1000.0, 1000.0 + second, second + 1, apps=(app,), sources=(src,)
        )
        now = 100.0 + second
        fleet.add(report, now)
        reading = fleet.reading(
            now, broker=broker, settle_seconds=5.0, uptime=float(second), wall=1_700_000_000.0 + second
        )
        recorder.sample(reading, "advance")
    recorder.close()
