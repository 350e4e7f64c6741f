"""A ``faust worker`` app whose web server cannot bind: every worker of the fleet is given the same
web port (``WEBBOUND_PORT``), already taken, so each gives up at start (``OSError: address already
in use``) before a value is yielded. The correct form gives each worker a port of its own, or
``--without-web``, as the fleet tests' app does (tests/apps/fleet.py)."""

import os

import faust

import genmon

APP_ID = os.environ.get("WEBBOUND_APP_ID", "genmon-test-webbound")
app = faust.App(
    APP_ID,
    broker=os.environ.get("WEBBOUND_BROKER", "kafka://127.0.0.1:9092"),
    web_host="127.0.0.1",
    web_port=int(os.environ.get("WEBBOUND_PORT", "6066")),
    datadir=os.path.join(os.environ.get("WEBBOUND_DATADIR", "/tmp"), f"{APP_ID}-{os.getpid()}"),
)
numbers = app.topic(f"{APP_ID}-numbers", value_type=int, value_serializer="json")


@genmon.track(name="numbers")
async def produce():
    for n in range(1, 21):
        yield n


@app.task
async def pump():
    async for n in produce():
        await numbers.send(value=n)


@app.agent(numbers)
async def read(stream):
    async for _ in stream:
        pass
