"""An agent that ends: it ``break``s out of its ``async for`` after a backfill of 10 orders, so it
never reads again. Faust logs nothing and does not restart it; the values sent after it ended wait on
the topic — stuck behind an agent that returned, not a consumer that started late.
``ENDING_CORRECT=1`` is the correct form: the agent handles the backfill and reads on."""

import asyncio
import os

import faust

import genmon

app = faust.App("genmon-test-ending", broker="kafka://127.0.0.1:9", web_enabled=False, topic_partitions=1)
orders = app.topic(os.environ.get("ENDING_TOPIC", "ending-orders"), value_type=int, partitions=1)
BACKFILL, VALUES = 10, 40
CORRECT = os.environ.get("ENDING_CORRECT") == "1"


@genmon.track(name="orders")
async def incoming():
    for n in range(1, VALUES + 1):
        yield n
        await asyncio.sleep(0.05)


@app.agent(orders)
async def backfill(stream):
    done = 0
    async for _ in stream:
        done += 1
        if done == BACKFILL and not CORRECT:
            break  # the bug: the backfill is over, and so is the agent


@app.task
async def pump():
    async for n in incoming():
        await orders.send(value=n)
