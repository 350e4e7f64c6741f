"""take() batches: one agent sums batches (lossless); one raises on the batch holding value 7.

Faust acks a crashed batch as a whole and restarts the agent, so every value of that batch is lost.
"""

import faust

import genmon

VALUES = 20
BAD = 7

app = faust.App("genmon-test-batches", broker="kafka://127.0.0.1:9", web_enabled=False)
good = app.topic("batches-good", value_type=int, value_serializer="json")
bad = app.topic("batches-bad", value_type=int, value_serializer="json")
seen_batches: list[list[int]] = []


@genmon.track(name="good-batches")
async def good_values():
    for n in range(1, VALUES + 1):
        yield n


@genmon.track(name="bad-batches")
async def bad_values():
    for n in range(1, VALUES + 1):
        yield n


@app.task
async def pump():
    async for n in good_values():
        await good.send(value=n)
    async for n in bad_values():
        await bad.send(value=n)


@app.agent(good)
async def sum_batches(stream):
    async for batch in stream.take(5, within=0.5):
        seen_batches.append(list(batch))


@app.agent(bad)
async def failing_batches(stream):
    async for batch in stream.take(5, within=0.5):
        if BAD in batch:
            raise KeyError("OH NO")
