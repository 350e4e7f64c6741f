"""The catalogue: each common way a Faust pipeline loses values, written the way people write it.

Every builder takes ``(app, period, prefix)`` and adds one pipeline to ``app``; values are numbered
from 1, so a value's ``n`` is also its genmon id and the ids each bug damages are knowable.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import faust

import genmon
from genmon.demo.app import Number


def unawaited_send(app: faust.App, period: float, prefix: str) -> None:
    """Every 4th value takes a code path whose ``topic.send(...)`` lacks ``await``."""
    topic = app.topic(f"{prefix}unawaited_topic", value_type=Number)

    @genmon.track(name="unawaited-send")
    async def orders() -> Any:
        n = 0
        while True:
            n += 1
            yield Number(n=n)
            await asyncio.sleep(period)

    @app.agent(topic)
    async def unawaited_agent(stream: Any) -> None:
        async for _ in stream:
            pass

    @app.task
    async def unawaited_pump() -> None:
        async for order in orders():
            if order.n % 4 == 0:
                topic.send(value=order)  # type: ignore[unused-coroutine]  # the bug: a coroutine nobody awaits
            else:
                await topic.send(value=order)


def wrong_topic(app: faust.App, period: float, prefix: str) -> None:
    """Values go to ``orders``; the agent consumes ``order``."""
    sent_to = app.topic(f"{prefix}orders", value_type=Number)
    consumed = app.topic(f"{prefix}order", value_type=Number)

    @genmon.track(name="wrong-topic")
    async def orders() -> Any:
        n = 0
        while True:
            n += 1
            yield Number(n=n)
            await asyncio.sleep(period)

    @app.agent(consumed)
    async def order_agent(stream: Any) -> None:
        async for _ in stream:
            pass

    @app.task
    async def orders_pump() -> None:
        async for order in orders():
            await sent_to.send(value=order)


def bad_payload(app: faust.App, period: float, prefix: str) -> None:
    """Every 5th value is sent as raw bytes that do not decode as the agent's ``Number``."""
    topic = app.topic(f"{prefix}payload_topic", value_type=Number)

    @genmon.track(name="bad-payload")
    async def readings() -> Any:
        n = 0
        while True:
            n += 1
            yield Number(n=n)
            await asyncio.sleep(period)

    @app.agent(topic)
    async def payload_agent(stream: Any) -> None:
        async for _ in stream:
            pass

    @app.task
    async def payload_pump() -> None:
        async for reading in readings():
            if reading.n % 5 == 0:  # the bug: a legacy path that sends a non-JSON payload
                await topic.send(value=b"\xff legacy:%d" % reading.n, value_serializer="raw")
            else:
                await topic.send(value=reading)


CRASH_PACE = 8
"""The crashing agent's jobs come this many times slower than other pipelines' values. Faust's
supervisor restarts a crashed agent at once or, when the wake-up misses it, on its 5 s timer: about
3.5 s a crash on average, so an agent raising every 7th value keeps up with 2 values a second at
most. At the others' pace the jobs pile up behind it and a run cannot drain."""


def crashing_agent(app: faust.App, period: float, prefix: str) -> None:
    """The agent raises on every 7th value (Faust logs it, commits the offset, restarts the agent)."""
    topic = app.topic(f"{prefix}crash_topic", value_type=Number)

    @genmon.track(name="crashing-agent")
    async def jobs() -> Any:
        n = 0
        while True:
            n += 1
            yield Number(n=n)
            await asyncio.sleep(period * CRASH_PACE)

    @app.agent(topic)
    async def crashing(stream: Any) -> None:
        async for job in stream:
            if job.n % 7 == 0:
                raise ValueError(f"cannot handle job {job.n}")

    @app.task
    async def jobs_pump() -> None:
        async for job in jobs():
            await topic.send(value=job)


def slow_consumer(app: faust.App, period: float, prefix: str) -> None:
    """The agent needs twice the time between values: lag grows, nothing is lost."""
    topic = app.topic(f"{prefix}slow_topic", value_type=Number)

    @genmon.track(name="slow-consumer")
    async def events() -> Any:
        n = 0
        while True:
            n += 1
            yield Number(n=n)
            await asyncio.sleep(period)

    @app.agent(topic)
    async def slow_agent(stream: Any) -> None:
        async for _ in stream:
            await asyncio.sleep(period * 2)

    @app.task
    async def events_pump() -> None:
        async for event in events():
            await topic.send(value=event)


def blocking_generator(app: faust.App, period: float, prefix: str) -> None:
    """A sync generator that ``time.sleep``s: the whole Faust loop (every agent) waits with it."""
    topic = app.topic(f"{prefix}blocking_topic", value_type=Number)

    @genmon.track(name="blocking-generator")
    def samples() -> Any:
        n = 0
        while True:
            n += 1
            if n % 5 == 0:
                time.sleep(0.4)  # the bug: blocking I/O in a generator on the event loop
            yield Number(n=n)

    @app.agent(topic)
    async def blocking_agent(stream: Any) -> None:
        async for _ in stream:
            pass

    @app.task
    async def samples_pump() -> None:
        for sample in samples():
            await topic.send(value=sample)
            await asyncio.sleep(period)


def late_producer(app: faust.App, period: float, prefix: str) -> None:
    """The upstream service of ``late-consumer``: it produces from the moment it starts."""
    topic = app.topic(f"{prefix}late_topic", value_type=Number)

    @genmon.track(name="late-consumer")
    async def signups() -> Any:
        n = 0
        while True:
            n += 1
            yield Number(n=n)
            await asyncio.sleep(period)

    @app.task
    async def signups_pump() -> None:
        async for signup in signups():
            await topic.send(value=signup)


def late_consumer(app: faust.App, period: float, prefix: str) -> None:
    """Starts later, with ``consumer_auto_offset_reset='latest'``: earlier values are never read."""
    topic = app.topic(f"{prefix}late_topic", value_type=Number)

    @app.agent(topic)
    async def late_agent(stream: Any) -> None:
        async for _ in stream:
            pass


def agent_without_stream(app: faust.App, period: float, prefix: str) -> None:
    """The well-known answer's fix 2 as written: ``@app.agent()`` on a function with no stream."""
    topic = app.topic(f"{prefix}nostream_topic", value_type=Number)

    @genmon.track(name="agent-without-stream")
    def generator() -> Any:
        n = 0
        while True:
            n += 1
            yield Number(n=n)

    @app.agent()  # type: ignore[arg-type]  # the bug, as Faust types it
    async def generator_agent():  # type: ignore[no-untyped-def]  # the bug: no stream parameter
        for item in generator():
            await topic.send(value=item)
            await asyncio.sleep(period)


def async_for_sync_generator(app: faust.App, period: float, prefix: str) -> None:
    """The well-known answer's fix 3 as written: ``async for`` over a plain generator."""
    topic = app.topic(f"{prefix}asyncfor_topic", value_type=Number)

    @genmon.track(name="async-for-sync-generator")
    def generator() -> Any:
        n = 0
        while True:
            n += 1
            yield Number(n=n)

    @app.agent(topic)
    async def asyncfor_agent(stream: Any) -> None:
        async for _ in stream:
            pass

    @app.task
    async def asyncfor_pump() -> None:
        async for item in generator():  # the bug: TypeError
            await topic.send(value=item)
            await asyncio.sleep(period)
