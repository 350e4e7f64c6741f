"""The part of genmon that runs inside the Faust app: counters, the Sensor, the generator wrapper.

Nothing here imports Textual; everything here is called from Faust's hot path, so it is cheap
and never raises into the user's code.
"""

from genmon.probe.runtime import Probe, active_probe
from genmon.probe.sensor import GenmonSensor
from genmon.probe.track import track

__all__ = ["GenmonSensor", "Probe", "active_probe", "track"]
