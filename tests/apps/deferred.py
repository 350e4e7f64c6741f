"""A send kept in a variable and awaited one value later; every 3rd one is overwritten unawaited."""

import faust

import genmon

VALUES = 30

app = faust.App("genmon-test-deferred", broker="kafka://127.0.0.1:9", web_enabled=False)
events = app.topic("deferred-events", value_type=int, value_serializer="json")


@genmon.track(name="deferred")
async def make_events():
    for n in range(1, VALUES + 1):
        yield n


@app.task
async def pump():
    pending = None
    async for n in make_events():
        if pending is not None and n % 3 != 1:
            await pending  # the previous value's send, awaited while this value is current
        pending = events.send(value=n)  # every 3rd (3, 6, 9 …) is overwritten here: the bug
    if pending is not None:
        await pending


@app.agent(events)
async def handle(stream):
    async for _ in stream:
        pass
