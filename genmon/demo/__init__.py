"""The demo: the "agent never receives the generator's values" bug, its fixes, and a catalogue of
other ways Faust pipelines lose values, each a small Faust program written with genmon's public API."""

from genmon.demo.app import ORIGINAL, create_app
from genmon.demo.catalogue import SCENARIOS, UnknownScenario, descriptions, plan, select

PIPELINES = descriptions(ORIGINAL)

__all__ = [
    "ORIGINAL",
    "PIPELINES",
    "SCENARIOS",
    "UnknownScenario",
    "create_app",
    "descriptions",
    "plan",
    "select",
]
