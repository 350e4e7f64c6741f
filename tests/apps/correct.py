"""Correct programs that must stay exact: concurrency=N with keys, an async-generator agent called
with cast() whose results go to a sink=, two agents on one topic, and stream.filter dropping values
on purpose (a filter is a decision, not a loss)."""

import faust

import genmon

VALUES = 24

app = faust.App("genmon-test-correct", broker="kafka://127.0.0.1:9", web_enabled=False)
keyed = app.topic("correct-keyed", key_type=str, value_type=int, value_serializer="json")
requests = app.topic("correct-requests", value_type=int, value_serializer="json")
results = app.topic("correct-results", value_type=int, value_serializer="json")
shared = app.topic("correct-shared", value_type=int, value_serializer="json")
kept: list[int] = []


@genmon.track(name="keyed")
async def make_keyed():
    for n in range(1, VALUES + 1):
        yield n


@genmon.track(name="casts")
async def make_casts():
    for n in range(1, VALUES + 1):
        yield n


@genmon.track(name="shared")
async def make_shared():
    for n in range(1, VALUES + 1):
        yield n


@app.task
async def pump():
    async for n in make_keyed():
        await keyed.send(key=f"k{n % 4}", value=n)
    async for n in make_casts():
        await double.cast(value=n)
    async for n in make_shared():
        await shared.send(value=n)


@app.agent(keyed, concurrency=3)
async def per_key(stream):
    async for _ in stream:
        pass


@app.agent(requests, sink=[results])
async def double(stream):
    async for n in stream:
        yield n * 2


@app.agent(results)
async def collect(stream):
    async for _ in stream:
        pass


@app.agent(shared)
async def everything(stream):
    async for _ in stream:
        pass


@app.agent(shared)
async def odd_only(stream):
    async for n in stream.filter(lambda n: n % 2 == 1):
        kept.append(n)
