"""A silent loss at the second hop: a tracked generator of orders, an agent that enriches them into
another topic (``sink=``), and one that routes them on — sending every order whose number is a
multiple of 7 to a misspelled topic (``hopmisnamed-routd``) that nothing reads. Nothing raises: the
values are sent, acked, and never received. genmon names the loss on the routing hop's row, in its
own numbering (``enrich`` drops order 5, a free one: the hop's ids are 6 and 13), and the
generator's original ids (7, 14) there and on the orders row.

``misroute`` is the broken form; ``bill`` reads the right topic (the correct form, beside it).
Orders numbered from 1.
"""

import faust

import genmon

VALUES = 20


class Order(faust.Record, serializer="json"):
    number: int
    total: float = 0.0


app = faust.App(
    "genmon-test-hopmisnamed", broker="kafka://127.0.0.1:9", web_enabled=False, topic_partitions=1
)
orders = app.topic("hopmisnamed-orders", value_type=Order)
enriched = app.topic("hopmisnamed-enriched", value_type=Order)
routed = app.topic("hopmisnamed-routed", value_type=Order)
misspelled = app.topic("hopmisnamed-routd", value_type=Order)


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
        if order.number != 5:  # a free order: nothing to enrich or bill
            yield Order(number=order.number, total=order.number * 1.5)


@app.agent(enriched)
async def misroute(stream):
    async for order in stream:
        await (misspelled if order.number % 7 == 0 else routed).send(value=order)


billed: list[int] = []


@app.agent(routed)
async def bill(stream):
    async for order in stream:
        billed.append(order.number)
