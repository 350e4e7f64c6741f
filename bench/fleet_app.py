"""The app ``bench/fleet.py`` runs as a fleet of plain ``faust worker`` processes.

Every worker yields numbers from a tracked generator and sends them (``BENCH_RATE`` per second per
worker, 0: as fast as it can), and an agent consumes them; every 0.5 s the worker appends its
agent's count to ``BENCH_OUT.<pid>`` (the bench reads throughput from the app's own counts, not
from genmon). genmon is attached only when ``GENMON_BROKER`` is set (its Faust fixup).
"""

import asyncio
import os
import time

import faust

import genmon

APP_ID = os.environ["BENCH_APP_ID"]
RATE = float(os.environ.get("BENCH_RATE", "0"))
OUT = os.environ["BENCH_OUT"] + f".{os.getpid()}"
DATADIR = os.path.join(os.environ["BENCH_DATADIR"], str(os.getpid()))
os.makedirs(DATADIR, exist_ok=True)

app = faust.App(
    APP_ID,
    broker=os.environ["BENCH_BROKER"],
    datadir=DATADIR,
    web_enabled=False,
    topic_partitions=6,
    consumer_auto_offset_reset="earliest",
    broker_session_timeout=6.0,
    broker_heartbeat_interval=0.5,
    broker_rebalance_timeout=8.0,
)
numbers = app.topic(f"{APP_ID}-numbers", value_type=int, value_serializer="json", partitions=6)
processed = 0


@genmon.track(name="numbers")
async def produce():
    n = 0
    start = time.monotonic()
    while True:
        n += 1
        yield n
        if RATE:  # on a schedule: a sleep of 1/RATE after each send fell short of the rate asked
            await asyncio.sleep(max(0.0, start + n / RATE - time.monotonic()))
        elif n % 50 == 0:
            await asyncio.sleep(0)


@app.agent(numbers)
async def consume(stream):
    global processed
    async for _ in stream:
        processed += 1


@app.task
async def pump():
    async for n in produce():
        await numbers.send(value=n)


@app.timer(0.5)
async def record():
    with open(OUT, "a") as f:
        f.write(f"{time.time():.3f} {processed}\n")
