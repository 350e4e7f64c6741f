"""The event-loop stall detector: a blocking sync generator is caught, healthy pipelines are not."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import faust
from conftest import running_host

import genmon
from genmon.broker import BrokerProcess
from genmon.host.host import Host
from genmon.watch.waiting import wait_for


def blocking_app(app_id: str, broker: BrokerProcess, datadir: str) -> faust.App:
    app = faust.App(app_id, broker=broker.url, web_enabled=False, datadir=datadir, **broker.faust_settings)
    topic = app.topic(f"{app_id}-values", value_type=int, value_serializer="json")

    @genmon.track(name="blocking")
    def values() -> Any:
        n = 0
        while True:
            n += 1
            if n % 5 == 0:
                time.sleep(0.4)  # the bug: blocking code inside a generator on Faust's loop
            yield n

    @genmon.track(name="healthy")
    async def healthy() -> Any:
        n = 0
        while True:
            n += 1
            yield n
            await asyncio.sleep(0.05)

    @app.agent(topic)
    async def sink(stream: Any) -> None:
        async for _ in stream:
            pass

    @app.task
    async def pump() -> None:
        for n in values():
            await topic.send(value=n)
            await asyncio.sleep(0.02)

    @app.task
    async def pump_healthy() -> None:
        async for n in healthy():
            await topic.send(value=n)

    return app


def test_blocking_generator_stall_is_reported_on_it_and_in_the_header(
    broker: BrokerProcess, app_id: str
) -> None:
    with running_host(broker, lambda datadir: blocking_app(app_id, broker, datadir)) as host:
        snap = wait_for(host, lambda s: s.stalls.count >= 2 and s.pipeline("blocking").stalls >= 2, 20)
    assert snap.stalls.count >= 2
    assert 0.35 <= snap.stalls.longest < 2.0
    assert snap.stalls.longest_at is not None
    blocking = snap.pipeline("blocking")
    assert blocking.stalls >= 2 and 0.35 <= blocking.longest_stall < 1.0
    assert snap.pipeline("healthy").stalls == 0
    assert snap.to_dict()["loop_stalls"]["count"] == snap.stalls.count


def test_demo_pipelines_never_stall(demo_host: Host) -> None:
    time.sleep(3)
    snap = demo_host.snapshot()
    assert snap.app_state == "running"
    assert all(pipe.stalls == 0 for pipe in snap.pipelines)
