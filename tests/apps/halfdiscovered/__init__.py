"""An autodiscover app one of whose modules cannot be imported (a dependency that is not
installed): Faust logs a warning and runs without that module's agents; genmon names it."""

import faust

app = faust.App(
    "genmon-test-halfdiscovered",
    broker="kafka://127.0.0.1:9",
    web_enabled=False,
    autodiscover=True,
    origin="tests.apps.halfdiscovered",
)
