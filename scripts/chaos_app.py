"""The app ``scripts/chaos.py`` runs as a fleet of ``faust worker`` processes with genmon attached.

Two hops: every worker yields numbers from a tracked generator at ``CHAOS_RATE`` per second and
sends them to ``<app>-numbers``; the agent ``double`` forwards each, doubled, to ``<app>-doubled``;
the agent ``tally`` finishes them. Both agents write the truth the run is checked against: one line
per event they finished, with the ``genmon-id`` header it carried (``double numbers@<token>:<id>:…``,
``tally double()@<token>:<id>:…``), to ``CHAOS_TRUTH/<pid>.log``, line-buffered (a worker killed
with SIGKILL has written every line it finished). Reading the header is the harness's business
only: the app's logic is a plain Faust app's.
"""

import asyncio
import os
import time

import faust

import genmon

APP_ID = os.environ["CHAOS_APP_ID"]
RATE = float(os.environ.get("CHAOS_RATE", "50"))
TRUTH = open(os.path.join(os.environ["CHAOS_TRUTH"], f"{os.getpid()}.log"), "a", buffering=1)  # noqa: SIM115
DATADIR = os.path.join(os.environ["CHAOS_DATADIR"], str(os.getpid()))
os.makedirs(DATADIR, exist_ok=True)

app = faust.App(
    APP_ID,
    broker=os.environ["CHAOS_BROKER"],
    datadir=DATADIR,
    web_enabled=False,
    topic_partitions=6,
    consumer_auto_offset_reset="earliest",
    broker_session_timeout=6.0,
    broker_heartbeat_interval=0.5,
    broker_rebalance_timeout=8.0,
)
numbers = app.topic(f"{APP_ID}-numbers", value_type=int, value_serializer="json", partitions=6)
doubled = app.topic(f"{APP_ID}-doubled", value_type=int, value_serializer="json", partitions=6)


def _header(event) -> str:
    headers = event.headers or {}
    items = headers.items() if isinstance(headers, dict) else headers
    for key, value in items:
        if key == "genmon-id":
            return value.decode() if isinstance(value, bytes) else str(value)
    return "-"


@genmon.track(name="numbers")
async def produce():
    n = 0
    start = time.monotonic()
    while True:
        n += 1
        yield n
        await asyncio.sleep(max(0.0, start + n / RATE - time.monotonic()))


@app.task
async def pump():
    async for n in produce():
        await numbers.send(value=n)


@app.agent(numbers)
async def double(stream):
    async for event in stream.events():
        await doubled.send(value=event.value * 2)
        TRUTH.write(f"double {_header(event)}\n")


@app.agent(doubled)
async def tally(stream):
    async for event in stream.events():
        TRUTH.write(f"tally {_header(event)}\n")
