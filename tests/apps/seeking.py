"""A consumer that seeks: on value ``JUMP_AT`` the agent waits (the producer runs ahead, the
stream's small buffer fills and fetching pauses), then moves its partition's position ``JUMP``
offsets ahead: the values in between that were not fetched yet are never read (one partition, so
the offsets are the values' own order). The flow goes on afterwards."""

import asyncio

import faust
from faust.types import TP

import genmon

JUMP_AT = 40
JUMP = 40
BUFFER = 10

app = faust.App(
    "genmon-test-seeking", broker="kafka://127.0.0.1:9", web_enabled=False, stream_buffer_maxsize=BUFFER
)
numbers = app.topic("seeking-numbers", value_type=int, value_serializer="json", partitions=1)
jumped: list[int] = []


@genmon.track(name="seeking")
async def make_numbers():
    n = 0
    while True:
        n += 1
        yield n
        await asyncio.sleep(0.05)


@app.task
async def pump() -> None:
    async for n in make_numbers():
        await numbers.send(value=n)


@app.agent(numbers)
async def reader(stream):
    async for event in stream.events():
        if event.value >= JUMP_AT and not jumped:
            jumped.append(event.message.offset)
            await asyncio.sleep(3)  # 60 more values are written meanwhile
            tp = TP(numbers.get_topic_name(), 0)
            await app.consumer.seek(tp, event.message.offset + 1 + JUMP)  # the bug: skips JUMP values
