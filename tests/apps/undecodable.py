"""Readings sent to a topic whose agent decodes them as ``Reading`` records; a legacy path sends
every 5th as raw bytes that are not JSON.

``VALUES`` readings, numbered from 1. ``readings`` is the broken form: Faust commits the
undecodable values and throws ``ValueDecodeError`` into the agent, which it restarts; the values
behind them wait on the topic. ``safe-readings`` is the correct form: every value a ``Reading``.
"""

import asyncio

import faust

import genmon

VALUES = 40


class Reading(faust.Record, serializer="json"):
    n: int


app = faust.App(
    "genmon-test-undecodable", broker="kafka://127.0.0.1:9", web_enabled=False, topic_partitions=1
)
readings_topic = app.topic("undecodable-readings", value_type=Reading)
safe_topic = app.topic("undecodable-safe-readings", value_type=Reading)


@genmon.track(name="readings")
async def readings():
    for n in range(1, VALUES + 1):
        yield Reading(n=n)
        await asyncio.sleep(0.02)


@genmon.track(name="safe-readings")
async def safe_readings():
    for n in range(1, VALUES + 1):
        yield Reading(n=n)
        await asyncio.sleep(0.02)


@app.task
async def pump():
    async for reading in readings():
        if reading.n % 5 == 0:  # the bug: a legacy path sends bytes the agent cannot decode
            await readings_topic.send(value=b"\xff legacy:%d" % reading.n, value_serializer="raw")
        else:
            await readings_topic.send(value=reading)


@app.task
async def safe_pump():
    async for reading in safe_readings():
        await safe_topic.send(value=reading)


@app.agent(readings_topic)
async def store(stream):
    async for _ in stream:
        pass


@app.agent(safe_topic)
async def store_safe(stream):
    async for _ in stream:
        pass
