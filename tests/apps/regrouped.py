"""Clicks repartitioned by user (``group_by``), with an agent that raises on every click whose
number is a multiple of 7: the crash happens one hop after the generator, and Faust's supervisor
restarts the agent.

``VALUES`` clicks, numbered from 1, 4 users. ``by_user`` is the broken form (it raises; restarted by
Faust, it reads nothing more: the clicks behind it wait on the topic), ``by_user_safe`` the correct one
(the same agent on a topic of its own, catching its error).
"""

import asyncio

import faust

import genmon

VALUES = 60


class Click(faust.Record, serializer="json"):
    number: int
    user: str


app = faust.App("genmon-test-regrouped", broker="kafka://127.0.0.1:9", web_enabled=False, topic_partitions=1)
clicks = app.topic("regrouped-clicks", value_type=Click)
safe_clicks = app.topic("regrouped-safe-clicks", value_type=Click)
skipped: list[int] = []


@genmon.track(name="clicks")
async def make_clicks():
    for n in range(1, VALUES + 1):
        yield Click(number=n, user=f"u{n % 4}")
        await asyncio.sleep(0.02)


@genmon.track(name="safe-clicks")
async def make_safe_clicks():
    for n in range(1, VALUES + 1):
        yield Click(number=n, user=f"u{n % 4}")
        await asyncio.sleep(0.02)


@app.task
async def pump():
    async for click in make_clicks():
        await clicks.send(key=click.user, value=click)


@app.task
async def safe_pump():
    async for click in make_safe_clicks():
        await safe_clicks.send(key=click.user, value=click)


def handle(click: Click) -> None:
    if click.number % 7 == 0:
        raise RuntimeError(f"bad click {click.number}")


@app.agent(clicks)
async def by_user(stream):
    async for click in stream.group_by(Click.user, name="by-user"):
        handle(click)


@app.agent(safe_clicks)
async def by_user_safe(stream):
    async for click in stream.group_by(Click.user, name="safe-by-user"):
        try:
            handle(click)
        except RuntimeError:
            skipped.append(click.number)
