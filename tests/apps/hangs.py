"""A lossless app whose stop hangs: its agent refuses to be cancelled once asked to stop (as an
agent stuck in a consumer that never empties does). genmon must still end, in bounded time."""

import asyncio

import faust

import genmon

app = faust.App("genmon-test-hangs", broker="kafka://127.0.0.1:9", web_enabled=False)
jobs = app.topic("hangs-jobs", value_type=int, value_serializer="json")


@genmon.track(name="jobs")
async def make_jobs():
    for n in range(1, 11):
        yield n


@app.task
async def pump():
    async for n in make_jobs():
        await jobs.send(value=n)


@app.agent(jobs)
async def handle(stream):
    try:
        async for _ in stream:
            pass
    finally:
        while True:  # the bug: cleanup that never finishes, and ignores cancellation
            try:
                await asyncio.sleep(0.5)
            except asyncio.CancelledError:
                continue
