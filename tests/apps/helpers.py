"""Untracked senders that send through helpers: rows are named after the timer and the task."""

import faust

app = faust.App("genmon-test-helpers", broker="kafka://127.0.0.1:9", web_enabled=False)
jobs = app.topic("helpers-jobs", value_type=int, value_serializer="json")
SENDS = 12


async def apply_async(n: int) -> None:
    await jobs.send(value=n)


async def enqueue(n: int) -> None:
    await apply_async(n)


@app.timer(interval=0.2)
async def reconcile():
    await apply_async(0)


@app.task
async def backfill():
    for n in range(1, SENDS + 1):
        await enqueue(n)


@app.agent(jobs)
async def work(stream):
    async for _ in stream:
        pass
