"""An app on a cluster that requires TLS and SASL, as managed clusters do: its own settings carry the
credentials (``broker_credentials`` with an ``ssl_context``), so ``genmon check -A`` and a ``faust
worker`` with ``GENMON_BROKER=app`` must connect the way the app does. The broker, the user and the
CA come from the environment (the test's secured Kafka makes them at start); the generator yields
1..N, so a loss is named by id.
"""

import asyncio
import os
import ssl

import faust

import genmon

APP_ID = os.environ.get("SECURED_APP_ID", "genmon-test-secured")
CA = os.environ.get("SECURED_CA")
VALUES = int(os.environ.get("SECURED_VALUES", "40"))
MECHANISM = os.environ.get("SECURED_MECHANISM", "SCRAM-SHA-512")
DATADIR = os.environ.get("SECURED_DATADIR")

app = faust.App(
    APP_ID,
    broker=os.environ.get("SECURED_BROKER", "kafka://127.0.0.1:9"),
    broker_credentials=faust.SASLCredentials(
        username=os.environ.get("SECURED_USER", "alice"),
        password=os.environ.get("SECURED_PASSWORD", ""),
        mechanism=MECHANISM,
        ssl_context=ssl.create_default_context(cafile=CA),
    ),
    web_enabled=False,
    topic_partitions=4,
    **({"datadir": os.path.join(DATADIR, f"{APP_ID}-{os.getpid()}")} if DATADIR else {}),
)
numbers = app.topic(f"{APP_ID}-numbers", value_type=int, value_serializer="json", partitions=4)


@genmon.track(name="numbers")
async def produce():
    for n in range(1, VALUES + 1):
        yield n
        await asyncio.sleep(0.02)


@app.agent(numbers)
async def consume(stream):
    async for _ in stream:
        pass


@app.task
async def pump():
    async for n in produce():
        await numbers.send(value=n)
