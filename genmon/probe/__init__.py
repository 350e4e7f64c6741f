"""The part of genmon that runs inside the Faust app: counters, the Sensor, the generator wrapper.

Nothing here imports Textual; everything here is called from Faust's hot path, so it is cheap
and never raises into the user's code. The names below are imported on first use, so a module of
this package that needs no Faust (the touchpoints' aiokafka part) does not import Faust.
"""

from typing import Any

__all__ = ["GenmonSensor", "Probe", "active_probe", "track"]


def __getattr__(name: str) -> Any:
    if name in ("Probe", "active_probe"):
        from genmon.probe import runtime

        return getattr(runtime, name)
    if name == "GenmonSensor":
        from genmon.probe.sensor import GenmonSensor

        return GenmonSensor
    if name == "track":
        from genmon.probe.tracking import track

        return track
    raise AttributeError(f"module 'genmon.probe' has no attribute {name!r}")
