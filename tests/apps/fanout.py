"""Fan-out: every value sent once to each of two topics, each read by its own agent (lossless);
and a second generator whose second topic is misspelt (lost on that topic only)."""

import faust

import genmon

VALUES = 20

app = faust.App("genmon-test-fanout", broker="kafka://127.0.0.1:9", web_enabled=False)
audit = app.topic("fanout-audit", value_type=int, value_serializer="json")
billing = app.topic("fanout-billing", value_type=int, value_serializer="json")
billings = app.topic("fanout-billings", value_type=int, value_serializer="json")  # the typo


@genmon.track(name="orders")
async def make_orders():
    for n in range(1, VALUES + 1):
        yield n


@genmon.track(name="refunds")
async def make_refunds():
    for n in range(1, VALUES + 1):
        yield n


@app.task
async def pump():
    async for n in make_orders():
        await audit.send(value=n)
        await billing.send(value=n)
    async for n in make_refunds():
        await audit.send(value=-n)
        await billings.send(value=-n)  # the bug: the agent reads fanout-billing


@app.agent(audit)
async def record(stream):
    async for _ in stream:
        pass


@app.agent(billing)
async def bill(stream):
    async for _ in stream:
        pass
