"""One app run as several ``faust worker`` processes (a fleet): every worker yields and sends,
Kafka hands each worker some of the topic's partitions, so values sent in one worker are received
in another. No genmon code beyond ``@genmon.track``: the probe comes from genmon's Faust fixup
(``GENMON_BROKER``). The app id, broker and data directory come from the environment (one per test).
"""

import asyncio
import os

import faust

import genmon

APP_ID = os.environ.get("FLEET_APP_ID", "genmon-test-fleet")
DATADIR = os.path.join(os.environ.get("FLEET_DATADIR", "/tmp/genmon-fleet-data"), f"{APP_ID}-{os.getpid()}")
os.makedirs(DATADIR, exist_ok=True)
app = faust.App(
    APP_ID,
    broker=os.environ.get("FLEET_BROKER", "kafka://127.0.0.1:9092"),
    datadir=DATADIR,
    web_enabled=False,
    topic_partitions=4,
    consumer_auto_offset_reset="earliest",
    broker_session_timeout=6.0,
    broker_heartbeat_interval=0.5,
    broker_rebalance_timeout=8.0,
)
numbers = app.topic(f"{APP_ID}-numbers", value_type=int, value_serializer="json", partitions=4)
RATE = float(os.environ.get("FLEET_RATE", "40"))


@genmon.track(name="numbers")
async def produce():
    n = 0
    while True:
        n += 1
        yield n
        await asyncio.sleep(1.0 / RATE)


@app.agent(numbers)
async def consume(stream):
    async for _ in stream:
        pass


@app.task
async def pump():
    async for n in produce():
        await numbers.send(value=n)
