"""The demo's Faust app, written the way a user writes one, using only genmon's public API.

It reproduces the three programs of the well-known question "Why isn't the Faust agent receiving
values from the yield generator?":

* ``unwired``: a generator whose values are iterated but never sent to the topic its agent
  consumes. The agent waits forever. This is the bug.
* ``sync-pump``: a plain generator; a task sends each value with ``await topic.send(value=...)``.
* ``async-pump``: an async generator that sleeps between values, sent the same way.

The answer's own versions of the two fixes do not run as written (``@app.agent()`` on a function
with no stream parameter, and ``async for`` over a plain generator); these are their intent. Those
two mistakes are pipelines of their own in ``genmon.demo.bugs``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

import faust

import genmon
from genmon.demo.names import ORIGINAL


class Number(faust.Record, serializer="json"):
    n: int


def new_app(
    app_id: str, broker: str, datadir: str | None, broker_settings: Mapping[str, Any], **settings: Any
) -> faust.App:
    """A Faust app as the demo's pipelines expect it (JSON values, no web server).

    ``broker_settings``: what the broker needs (genmon passes the embedded broker's fast joins).
    """
    options: dict[str, Any] = dict(broker_settings)
    options.update(settings)
    return faust.App(
        app_id, broker=broker, value_serializer="json", web_enabled=False, datadir=datadir, **options
    )


def unwired(app: faust.App, period: float, prefix: str) -> None:
    """The bug. The generator runs, the agent listens, nothing connects them."""
    topic = app.topic(f"{prefix}unwired_topic", value_type=Number)

    @genmon.track(name="unwired")
    async def numbers() -> Any:
        n = 0
        while True:
            n += 1
            yield Number(n=n)
            await asyncio.sleep(period)

    @app.agent(topic)
    async def unwired_agent(stream: Any) -> None:
        async for number in stream:
            print("unwired_agent got", number)  # never runs: nothing sends to unwired_topic

    @app.task
    async def unwired_driver() -> None:
        async for number in numbers():
            _ = number  # the value is made... and dropped here


def sync_pump(app: faust.App, period: float, prefix: str) -> None:
    """A plain generator, pumped into the topic by a task."""
    topic = app.topic(f"{prefix}sync_topic", value_type=Number)

    @genmon.track(name="sync-pump")
    def sync_numbers() -> Any:
        n = 0
        while True:
            n += 1
            yield Number(n=n)

    @app.agent(topic)
    async def sync_agent(stream: Any) -> None:
        async for number in stream:
            _ = number.n

    @app.task
    async def sync_pump_task() -> None:
        for number in sync_numbers():
            await topic.send(value=number)
            await asyncio.sleep(period)


def async_pump(app: faust.App, period: float, prefix: str) -> None:
    """An async generator that awaits between values, pumped the same way."""
    topic = app.topic(f"{prefix}async_topic", value_type=Number)

    @genmon.track(name="async-pump")
    async def async_numbers() -> Any:
        n = 0
        while True:
            n += 1
            yield Number(n=n)
            await asyncio.sleep(period)

    @app.agent(topic)
    async def async_agent(stream: Any) -> None:
        async for number in stream:
            _ = number.n

    @app.task
    async def async_pump_task() -> None:
        async for number in async_numbers():
            await topic.send(value=number)


BUILDERS = {"unwired": unwired, "sync-pump": sync_pump, "async-pump": async_pump}


def create_app(
    app_id: str = "genmon-demo",
    broker: str = "kafka://localhost:9092",
    rate: float = 10.0,
    datadir: str | None = None,
    broker_settings: Mapping[str, Any] | None = None,
    topic_prefix: str = "",
    pipelines: Iterable[str] = ORIGINAL,
) -> faust.App:
    """Build the demo app; ``rate`` is values per second per generator.

    ``topic_prefix`` keeps apps that share a broker (genmon's tests) off each other's topics.
    """
    app = new_app(app_id, broker, datadir, broker_settings or {})
    for name in pipelines:
        BUILDERS[name](app, 1.0 / rate, topic_prefix)
    return app
