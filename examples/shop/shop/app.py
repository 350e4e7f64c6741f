"""orders → charge (grouped by customer, a running total per customer) → payments → ledger.

Run it with Faust as usual (``faust -A shop.app worker``), or watch its values with genmon:
``genmon -A shop.app --embedded`` (no Kafka needed) or ``genmon -A shop.app`` (your broker).
"""

import asyncio
import random

import faust

import genmon

app = faust.App("shop", broker="kafka://localhost:9092", value_serializer="json", web_enabled=False)


class Order(faust.Record):
    order_id: int
    customer: str
    amount: int


class Payment(faust.Record):
    order_id: int
    customer: str
    amount: int
    customer_total: int


orders = app.topic("shop-orders", value_type=Order)
payments = app.topic("shop-payments", value_type=Payment)
spent = app.Table("shop-spent-per-customer", default=int)

CUSTOMERS = ["ada", "grace", "linus", "guido", "barbara"]


@genmon.track(name="orders")
async def incoming_orders(rate: float = 20.0):
    """Stands in for a webhook, a queue or a database poll: whatever yields your values."""
    order_id = 0
    while True:
        order_id += 1
        yield Order(order_id=order_id, customer=random.choice(CUSTOMERS), amount=random.randint(1, 100))
        await asyncio.sleep(1 / rate)


@app.task
async def take_orders():
    async for order in incoming_orders():
        await orders.send(value=order)


@app.agent(orders)
async def charge(stream):
    async for order in stream.group_by(Order.customer):
        spent[order.customer] += order.amount
        await payments.send(
            value=Payment(
                order_id=order.order_id,
                customer=order.customer,
                amount=order.amount,
                customer_total=spent[order.customer],
            )
        )


@app.agent(payments)
async def ledger(stream):
    async for payment in stream:
        app.logger.debug("booked %s for %s", payment.amount, payment.customer)
