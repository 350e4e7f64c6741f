"""A slow trickle batched with ``stream.take(100, within=8)``: a batch of a trickle is not done
before its 8 s window has passed, by design. Judged with ``--settle 2``, the values in the buffer
are in flight until the window can have closed — never lost (the correct form of the idiom; its
broken form, an agent raising on a batch, is tests/apps/batches.py)."""

import asyncio

import faust

import genmon

VALUES, WITHIN = 6, 8.0

app = faust.App("genmon-test-windowed", broker="kafka://127.0.0.1:9", web_enabled=False, topic_partitions=1)
trickle = app.topic("windowed-trickle", value_type=int, value_serializer="json", partitions=1)
BATCHES: list[list[int]] = []


@genmon.track(name="trickle")
async def slowly():
    for n in range(1, VALUES + 1):
        yield n
        await asyncio.sleep(0.5)


@app.task
async def pump():
    async for n in slowly():
        await trickle.send(value=n)


@app.agent(trickle)
async def batch(stream):
    async for values in stream.take(100, within=WITHIN):
        BATCHES.append(list(values))
