"""A topic declared acks=False, read by two agents: every value received once, processed by both."""

import faust

import genmon

VALUES = 30

app = faust.App("genmon-test-unacked", broker="kafka://127.0.0.1:9", web_enabled=False)
metrics = app.topic("unacked-metrics", value_type=int, value_serializer="json", acks=False)


@genmon.track(name="metrics")
async def make_metrics():
    for n in range(1, VALUES + 1):
        yield n


@app.task
async def pump():
    async for n in make_metrics():
        await metrics.send(value=n)


@app.agent(metrics)
async def store(stream):
    async for _ in stream:
        pass


@app.agent(metrics)
async def alert(stream):
    async for _ in stream:
        pass
