"""A correct pipeline (values 1-20) whose topic a test then fills with copied and forged records
carrying this run's ``genmon-id`` header: they must never count as the pipeline's values."""

import faust

import genmon

VALUES = 20

app = faust.App("genmon-test-hostile", broker="kafka://127.0.0.1:9", web_enabled=False)
numbers = app.topic("hostile-numbers", value_type=int, value_serializer="json")


@genmon.track(name="numbers")
async def make_numbers():
    for n in range(1, VALUES + 1):
        yield n


@app.task
async def pump():
    async for n in make_numbers():
        await numbers.send(value=n)


@app.agent(numbers)
async def count(stream):
    async for _ in stream:
        pass
