"""An output topic (a sink) and a misnamed topic, side by side.

``enrich`` writes results to sinks-enriched for another service: no agent here reads it, nothing is
lost. ``payments`` are sent to sinks-payment while the agent reads sinks-payments: a typo, lost.
"""

import faust

import genmon

VALUES = 15

app = faust.App("genmon-test-sinks", broker="kafka://127.0.0.1:9", web_enabled=False)
orders = app.topic("sinks-orders", value_type=int, value_serializer="json")
enriched = app.topic("sinks-enriched", value_type=int, value_serializer="json")
payment = app.topic("sinks-payment", value_type=int, value_serializer="json")
payments = app.topic("sinks-payments", value_type=int, value_serializer="json")


@genmon.track(name="orders")
async def make_orders():
    for n in range(1, VALUES + 1):
        yield n


@genmon.track(name="payments")
async def make_payments():
    for n in range(1, VALUES + 1):
        yield n


@app.task
async def pump():
    async for n in make_orders():
        await orders.send(value=n)
    async for n in make_payments():
        await payment.send(value=n)  # the bug: the agent reads sinks-payments


@app.agent(orders)
async def enrich(stream):
    async for n in stream:
        await enriched.send(value=n * 10)


@app.agent(payments)
async def settle(stream):
    async for _ in stream:
        pass
