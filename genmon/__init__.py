"""genmon: where did my values go?

The public API is one decorator, :func:`genmon.track`, used inside a Faust app to mark the
generators whose values genmon follows through sent, acked, received and processed.
Without genmon's probe installed it is transparent.

``genmon.track`` is imported on first use: the screen's process (which holds no Faust app) then
never imports Faust at all, and starts its workers sooner.
"""

from typing import Any

from genmon.version import __version__

__all__ = ["__version__", "track"]


def __getattr__(name: str) -> Any:
    if name == "track":
        from genmon.probe.tracking import track

        return track
    raise AttributeError(f"module 'genmon' has no attribute {name!r}")
