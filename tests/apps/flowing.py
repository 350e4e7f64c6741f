"""Pipelines that keep flowing and lose nothing, each a way a consumer lags or reorders without
skipping: a slow consumer, one slow partition among fast ones, ``concurrency=4``, two agents on one
topic, a filter, fan-out to two topics, and an agent Faust restarts after it raised on one value
(that value is a loss genmon sees; nothing else is). Values flow until the test ends."""

import asyncio

import faust

import genmon

app = faust.App("genmon-test-flowing", broker="kafka://127.0.0.1:9", web_enabled=False, topic_partitions=4)
slow_topic = app.topic("flowing-slow", value_type=int, value_serializer="json", partitions=4)
lopsided_topic = app.topic(
    "flowing-lopsided", key_type=str, value_type=int, value_serializer="json", partitions=4
)
busy_topic = app.topic("flowing-busy", value_type=int, value_serializer="json", partitions=4)
shared_topic = app.topic("flowing-shared", value_type=int, value_serializer="json", partitions=4)
filtered_topic = app.topic("flowing-filtered", value_type=int, value_serializer="json", partitions=4)
left_topic = app.topic("flowing-left", value_type=int, value_serializer="json", partitions=4)
right_topic = app.topic("flowing-right", value_type=int, value_serializer="json", partitions=4)
restart_topic = app.topic("flowing-restart", value_type=int, value_serializer="json", partitions=4)
TOPICS = [
    t.get_topic_name()
    for t in (
        slow_topic,
        lopsided_topic,
        busy_topic,
        shared_topic,
        filtered_topic,
        left_topic,
        right_topic,
        restart_topic,
    )
]
CRASH_ON = 7
"""The value the restarted agent raises on (once)."""


def paced(name: str, every: float):  # type: ignore[no-untyped-def]
    @genmon.track(name=name)
    async def values():
        n = 0
        while True:
            n += 1
            yield n
            await asyncio.sleep(every)

    return values


@app.task
async def pump_slow() -> None:
    async for n in paced("slow", 0.05)():
        await slow_topic.send(value=n)


@app.agent(slow_topic)
async def crawl(stream):
    async for _ in stream:
        await asyncio.sleep(0.1)  # half the rate it is fed: a backlog that grows for as long as it runs


@app.task
async def pump_lopsided() -> None:
    async for n in paced("lopsided", 0.05)():
        await lopsided_topic.send(key=str(n % 7), value=n)


@app.agent(lopsided_topic)
async def uneven(stream):
    async for event in stream.events():
        if event.message.partition == 0:
            await asyncio.sleep(0.15)  # one partition's values take far longer than the others'


@app.task
async def pump_busy() -> None:
    async for n in paced("concurrent", 0.02)():
        await busy_topic.send(value=n)


@app.agent(busy_topic, concurrency=4)
async def busy(stream):
    async for n in stream:
        await asyncio.sleep(0.01 * (n % 5))


@app.task
async def pump_shared() -> None:
    async for n in paced("two-agents", 0.05)():
        await shared_topic.send(value=n)


@app.agent(shared_topic)
async def first_reader(stream):
    async for _ in stream:
        pass


@app.agent(shared_topic)
async def second_reader(stream):
    async for _ in stream:
        await asyncio.sleep(0.02)


@app.task
async def pump_filtered() -> None:
    async for n in paced("filtered", 0.05)():
        await filtered_topic.send(value=n)


@app.agent(filtered_topic)
async def odd_only(stream):
    async for _ in stream.filter(lambda n: n % 2 == 1):
        pass


@app.task
async def pump_fanout() -> None:
    async for n in paced("fan-out", 0.05)():
        await left_topic.send(value=n)
        await right_topic.send(value=n)


@app.agent(left_topic)
async def left(stream):
    async for _ in stream:
        pass


@app.agent(right_topic)
async def right(stream):
    async for _ in stream:
        pass


@app.task
async def pump_restart() -> None:
    async for n in paced("restarted", 0.05)():
        await restart_topic.send(value=n)


crashed: list[bytes] = []
"""The genmon id header of the event the agent raised on (the truth genmon's crash id is checked
against)."""


@app.agent(restart_topic)
async def fragile(stream):
    async for event in stream.events():
        if event.value == CRASH_ON and not crashed:
            crashed.append(dict(event.headers).get("genmon-id", b""))
            raise RuntimeError(f"bad value {event.value}")
