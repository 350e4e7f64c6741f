"""A steady, lossless pipeline for tests on a broker genmon does not run (``--broker``): 20 values/s
until paused. The app id comes from ``STEADY_APP_ID`` (two runs that share it share a consumer
group), and the app joins its group quickly, as the embedded broker needs (Faust's defaults make
Tansu hold a join for 30 s)."""

import asyncio
import os

import faust

import genmon

APP_ID = os.environ.get("STEADY_APP_ID", "genmon-test-steady")

app = faust.App(
    APP_ID,
    broker="kafka://127.0.0.1:9",
    web_enabled=False,
    topic_partitions=4,
    broker_session_timeout=2.0,
    broker_heartbeat_interval=0.5,
    broker_rebalance_timeout=2.0,
)
numbers = app.topic(f"{APP_ID}-numbers", value_type=int, value_serializer="json")


@genmon.track(name="steady")
async def make_numbers():
    n = 0
    while True:
        n += 1
        yield n
        await asyncio.sleep(0.05)


@app.task
async def pump():
    async for n in make_numbers():
        await numbers.send(value=n)


@app.agent(numbers)
async def count(stream):
    async for _ in stream:
        pass
