"""send_soon: a tracked generator's values buffered with Topic.send_soon, and a timer that does the same."""

import faust

import genmon

VALUES = 25

app = faust.App("genmon-test-buffered", broker="kafka://127.0.0.1:9", web_enabled=False)
orders = app.topic("buffered-orders", value_type=int, value_serializer="json")
ticks = app.topic("buffered-ticks", value_type=int, value_serializer="json")


@genmon.track(name="soon-orders")
async def make_orders():
    for n in range(1, VALUES + 1):
        yield n


@app.task
async def pump():
    async for n in make_orders():
        orders.send_soon(value=n)


@app.timer(interval=0.2)
async def heartbeat():
    ticks.send_soon(value=1)


@app.agent(orders)
async def fulfil(stream):
    async for _ in stream:
        pass


@app.agent(ticks)
async def count_ticks(stream):
    async for _ in stream:
        pass
