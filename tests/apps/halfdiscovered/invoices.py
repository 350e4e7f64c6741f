"""The module that does not import: it needs a package that is not installed, so its agent never
runs (the broken form; ``agents.py`` is the correct one)."""

import genmon_test_not_installed  # noqa: F401

from tests.apps.halfdiscovered import app

invoices = app.topic("halfdiscovered-invoices", value_type=int, value_serializer="json")


@app.agent(invoices)
async def bill(stream):
    async for _ in stream:
        pass
