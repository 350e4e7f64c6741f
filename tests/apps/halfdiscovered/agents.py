"""The module that imports: a tracked generator, its pump and the agent that reads it."""

import genmon
from tests.apps.halfdiscovered import app

orders = app.topic("halfdiscovered-orders", value_type=int, value_serializer="json")

VALUES = 10


@genmon.track(name="orders")
def make_orders():
    yield from range(1, VALUES + 1)


@app.agent(orders)
async def book(stream):
    async for _ in stream:
        pass


@app.task
async def pump():
    for n in make_orders():
        await orders.send(value=n)
