"""One faust.App under two names (``app = faust_app = faust.App(...)``): faust's own ``-A``
takes the module, so genmon does too (one object is one app). A second, different App in a
module is still refused as ambiguous."""

import faust

import genmon

app = faust_app = faust.App("genmon-test-aliased", broker="kafka://127.0.0.1:9", web_enabled=False)
numbers = app.topic("aliased-numbers", value_type=int, value_serializer="json")

VALUES = 5


@genmon.track(name="numbers")
def make_numbers():
    yield from range(1, VALUES + 1)


@app.agent(numbers)
async def read(stream):
    async for _ in stream:
        pass


@app.task
async def pump():
    for n in make_numbers():
        await numbers.send(value=n)
