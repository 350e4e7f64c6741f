"""genmon: where did my values go?

The public API is one decorator, :func:`genmon.track`, used inside a Faust app to mark the
generators whose values genmon follows through sent, acked, received and processed.
Without genmon's probe installed it is transparent.
"""

from genmon.probe.track import track
from genmon.version import __version__

__all__ = ["__version__", "track"]
