"""The broken form of tests/apps/fed.py: the agent raises on an order it cannot charge (a negative
amount), so exactly those lines are lost at processed — and genmon names them by line number."""

import os

import faust

APP_ID = os.environ.get("FED_APP_ID", "genmon-test-fedcrash")
app = faust.App(APP_ID, broker="kafka://127.0.0.1:9", web_enabled=False, topic_partitions=4)


class Order(faust.Record, serializer="json"):
    id: int
    amount: float


orders = app.topic(os.environ.get("FED_TOPIC", "fedcrash-orders"), value_type=Order, partitions=4)


@app.agent(orders)
async def charge(stream):
    async for order in stream:
        if order.amount < 0:
            raise ValueError(f"cannot charge order {order.id}: negative amount")
