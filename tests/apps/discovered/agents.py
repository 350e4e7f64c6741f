"""Found by autodiscovery (venusian scans the package for @app.agent and friends)."""

import genmon
from tests.apps.discovered import app

signups = app.topic("discovered-signups", value_type=int, value_serializer="json")

VALUES = 15


@genmon.track(name="signups")
def make_signups():
    yield from range(VALUES)


@app.agent(signups)
async def welcome(stream):
    async for _ in stream:
        pass


@app.task
async def pump():
    for n in make_signups():
        await signups.send(value=n)
