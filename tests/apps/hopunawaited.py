"""A send never awaited at the second hop: a tracked generator of orders, and an agent that routes
them on — awaiting its send, except for every order whose number is a multiple of 6, where the
``await`` was forgotten. The coroutine is dropped and the value never leaves; the hop never even
gave it an id. genmon names the generator's ids (6, 12, 18) and the hop where they died.

``route`` is the broken form; ``bill`` reads what ``route`` sent (every other order). Orders
numbered from 1.
"""

import faust

import genmon

VALUES = 20


class Order(faust.Record, serializer="json"):
    number: int


app = faust.App(
    "genmon-test-hopunawaited", broker="kafka://127.0.0.1:9", web_enabled=False, topic_partitions=1
)
orders = app.topic("hopunawaited-orders", value_type=Order)
routed = app.topic("hopunawaited-routed", value_type=Order)
billed: list[int] = []


@genmon.track(name="orders")
async def make_orders():
    for n in range(1, VALUES + 1):
        yield Order(number=n)


@app.task
async def pump():
    async for order in make_orders():
        await orders.send(value=order)


@app.agent(orders)
async def route(stream):
    async for order in stream:
        if order.number % 6 == 0:
            routed.send(value=order)  # the bug: the await is missing
        else:
            await routed.send(value=order)


@app.agent(routed)
async def bill(stream):
    async for order in stream:
        billed.append(order.number)
