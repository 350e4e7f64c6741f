"""A user's app, as genmon -A sees it: tracked generators, an untracked task, a timer, two hops."""

import asyncio

import faust

import genmon

app = faust.App("genmon-test-basic", broker="kafka://127.0.0.1:9", web_enabled=False)

orders = app.topic("basic-orders", value_type=int, value_serializer="json")
audit = app.topic("basic-audit", value_type=int, value_serializer="json")
ticks = app.topic("basic-ticks", value_type=int, value_serializer="json")

SYNC_VALUES, ASYNC_VALUES, TASK_VALUES = 30, 25, 20


@genmon.track(name="sync-orders")
def sync_orders():
    yield from range(SYNC_VALUES)


@genmon.track
async def async_orders():
    for n in range(ASYNC_VALUES):
        yield n
        await asyncio.sleep(0.01)


@app.agent(orders)
async def process(stream):
    async for order in stream:
        await audit.send(value=order)  # the second hop: forwarded to the audit topic


@app.agent(audit)
async def archive(stream):
    async for _ in stream:
        pass


@app.agent(ticks)
async def count_ticks(stream):
    async for _ in stream:
        pass


@app.task
async def pump():
    for n in sync_orders():
        await orders.send(value=n)
    async for n in async_orders():
        await orders.send(value=n)


@app.task
async def legacy_import():
    for n in range(TASK_VALUES):
        await orders.send(value=n)  # not a tracked generator: shows as its own source


@app.timer(interval=0.2)
async def tick():
    await ticks.send(value=1)
