"""An app with a known loss: every 3rd value goes to a send nobody awaits."""

import faust

import genmon

app = faust.App("genmon-test-lossy", broker="kafka://127.0.0.1:9", web_enabled=False)
events = app.topic("lossy-events", value_type=int, value_serializer="json")
refunds = app.topic("lossy-refunds", value_type=int, value_serializer="json")


@genmon.track(name="events")
async def make_events():
    for n in range(1, 31):
        yield n


@app.agent(events)
async def handle(stream):
    async for _ in stream:
        pass


@app.task
async def pump():
    async for n in make_events():
        if n % 3 == 0:
            events.send(value=n)  # the bug
        else:
            await events.send(value=n)


@app.agent(refunds)
async def refund(stream):  # nothing in this app sends refunds: a listening row
    async for _ in stream:
        pass
