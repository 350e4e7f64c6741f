"""An app fed only from outside Faust (another service produces its orders): an agent, no generator,
no task. genmon follows it with ``--feed fed-orders=FILE``: each line a value, its id its line
number. The agent reads a ``faust.Record`` through its own topic object, so the feed goes through the
app's value type and serializer. The correct form: every order is processed."""

import os

import faust

APP_ID = os.environ.get("FED_APP_ID", "genmon-test-fed")
app = faust.App(APP_ID, broker="kafka://127.0.0.1:9", web_enabled=False, topic_partitions=4)


class Order(faust.Record, serializer="json"):
    id: int
    amount: float


orders = app.topic(os.environ.get("FED_TOPIC", "fed-orders"), value_type=Order, partitions=4)
PROCESSED: list[int] = []


@app.agent(orders)
async def charge(stream):
    async for order in stream:
        PROCESSED.append(order.id)
