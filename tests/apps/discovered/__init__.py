"""An autodiscover app: its agents live in a module the worker discovers, not the one -A names."""

import faust

app = faust.App(
    "genmon-test-discovered",
    broker="kafka://127.0.0.1:9",
    web_enabled=False,
    autodiscover=True,
    origin="tests.apps.discovered",
)
