"""The fleet app (tests/apps/fleet.py: ``numbers``, sent and processed, lossless) plus the classic
bug beside it, for the browser and Prometheus tests: ``unwired`` values are yielded and never sent
(lost at sent). Run as a plain ``faust worker`` with ``GENMON_BROKER`` set."""

import asyncio

import genmon
from tests.apps.fleet import RATE, app

__all__ = ["app"]


@genmon.track(name="unwired")
async def unwired():
    n = 0
    while True:
        n += 1
        yield n
        await asyncio.sleep(1.0 / RATE)


@app.task
async def iterate():  # the bug: the values are iterated, never sent anywhere
    async for _ in unwired():
        pass
