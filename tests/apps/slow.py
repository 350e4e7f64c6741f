"""A slow consumer: the agent needs 2.5 s per value while the generator makes one a second.

Lossless: every value arrives, late. The backlog drains for as long as the agent keeps consuming.
"""

import asyncio

import faust

import genmon

app = faust.App("genmon-test-slow", broker="kafka://127.0.0.1:9", web_enabled=False)
jobs = app.topic("slow-jobs", value_type=int, value_serializer="json")


@genmon.track(name="jobs")
async def make_jobs():
    n = 0
    while True:
        n += 1
        yield n
        await asyncio.sleep(1.0)


@app.task
async def pump():
    async for n in make_jobs():
        await jobs.send(value=n)


@app.agent(jobs)
async def crunch(stream):
    async for _ in stream:
        await asyncio.sleep(2.5)
