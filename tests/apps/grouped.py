"""A repartitioning app: group_by and a Table, fed by a tracked generator."""

import faust

import genmon


class Order(faust.Record, serializer="json"):
    customer: str
    amount: int


app = faust.App("genmon-test-grouped", broker="kafka://127.0.0.1:9", web_enabled=False)
orders = app.topic("grouped-orders", value_type=Order)
totals = app.Table("grouped-totals", default=int)

VALUES = 40


@genmon.track(name="orders")
async def make_orders():
    for n in range(VALUES):
        yield Order(customer=f"c{n % 4}", amount=n)


@app.agent(orders)
async def by_customer(stream):
    async for order in stream.group_by(Order.customer):
        totals[order.customer] += order.amount


@app.task
async def pump():
    async for order in make_orders():
        await orders.send(value=order)
