"""Sends that raise, caught by the code that sends: the values never arrive, and genmon names why.

``unserializable``: every 6th value holds an object the topic's JSON codec cannot serialize
(``Topic.send`` raises ``TypeError`` before the producer takes it: lost at sent). ``oversized``:
every 10th value is a 2 MB record, over the producer's ``max_request_size`` (1 MiB; aiokafka
raises ``MessageSizeTooLargeError`` once the producer has it: lost at acked). The other values of
both are the correct form, and arrive. Values numbered from 1.
"""

import faust

import genmon

VALUES = 30
BIG = 2 * 1024 * 1024

app = faust.App("genmon-test-rejected", broker="kafka://127.0.0.1:9", web_enabled=False)
events = app.topic("rejected-events", value_serializer="json")
blobs = app.topic("rejected-blobs", value_serializer="raw")
failures: list[str] = []


class Customer:
    """A plain object: JSON has no form for it."""


@genmon.track(name="unserializable")
async def make_events():
    for n in range(1, VALUES + 1):
        yield {"n": n, "customer": Customer()} if n % 6 == 0 else {"n": n}


@genmon.track(name="oversized")
async def make_blobs():
    for n in range(1, VALUES + 1):
        yield b"x" * BIG if n % 10 == 0 else b"%d" % n


@app.task
async def pump():
    async for event in make_events():
        try:
            await events.send(value=event)
        except TypeError as exc:
            failures.append(repr(exc))
    async for blob in make_blobs():
        try:
            await blobs.send(value=blob)
        except Exception as exc:
            failures.append(repr(exc))


@app.agent(events)
async def store(stream):
    async for _ in stream:
        pass


@app.agent(blobs)
async def archive(stream):
    async for _ in stream:
        pass
