"""Three hops: a tracked generator of orders, an agent that enriches them into another topic
(``sink=``), one that routes them on (``event.forward``), and one that bills them and raises on
every order whose number is a multiple of 9. The loss happens at the last hop: its row counts it in
its own numbering, and genmon names the generator's original ids there and on the orders row.

``bill`` is the broken form; ``audit`` reads the same routed topic and never raises (the correct
form, beside it). Orders numbered from 1.
"""

import faust

import genmon

VALUES = 20


class Order(faust.Record, serializer="json"):
    number: int
    total: float = 0.0


app = faust.App("genmon-test-multihop", broker="kafka://127.0.0.1:9", web_enabled=False, topic_partitions=1)
orders = app.topic("multihop-orders", value_type=Order)
enriched = app.topic("multihop-enriched", value_type=Order)
routed = app.topic("multihop-routed", value_type=Order)
audited: list[int] = []


@genmon.track(name="orders")
async def make_orders():
    for n in range(1, VALUES + 1):
        yield Order(number=n)


@app.task
async def pump():
    async for order in make_orders():
        await orders.send(value=order)


@app.agent(orders, sink=[enriched])
async def enrich(stream):
    async for order in stream:
        yield Order(number=order.number, total=order.number * 1.5)


@app.agent(enriched)
async def route(stream):
    async for event in stream.events():
        await event.forward(routed)


@app.agent(routed)
async def bill(stream):
    async for order in stream:
        if order.number % 9 == 0:
            raise RuntimeError(f"cannot bill order {order.number}")


@app.agent(routed)
async def audit(stream):
    async for order in stream:
        audited.append(order.number)
