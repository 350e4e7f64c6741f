"""In-memory channels: a tracked generator feeding an agent through app.channel(), and an agent
that sends what it cannot handle to a dead-letter channel read by another agent."""

import faust

import genmon

VALUES = 20

app = faust.App("genmon-test-channels", broker="kafka://127.0.0.1:9", web_enabled=False)
work = app.channel(value_type=int)
dead_letters = app.channel(value_type=int)
handled: list[int] = []
parked: list[int] = []


@genmon.track(name="jobs")
async def make_jobs():
    for n in range(1, VALUES + 1):
        yield n


@app.task
async def pump():
    async for n in make_jobs():
        await work.send(value=n)


@app.agent(work)
async def worker(stream):
    async for n in stream:
        if n % 5 == 0:
            await dead_letters.send(value=n)  # not lost: parked for later
        else:
            handled.append(n)


@app.agent(dead_letters)
async def park(stream):
    async for n in stream:
        parked.append(n)
