"""The demo: the "agent never receives the generator's values" bug, its fixes, and a catalogue of
other ways Faust pipelines lose values, each a small Faust program written with genmon's public API.

Names are imported on first use (PEP 562): ``select`` and ``descriptions`` need no Faust
(:mod:`genmon.demo.names`); building the apps does (:mod:`genmon.demo.catalogue`).
"""

from typing import Any

from genmon.demo.names import ORIGINAL, UnknownScenario, descriptions, select

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


def __getattr__(name: str) -> Any:
    if name in ("SCENARIOS", "create_app", "plan"):
        from genmon.demo import catalogue

        return getattr(catalogue, name)
    raise AttributeError(f"module 'genmon.demo' has no attribute {name!r}")
