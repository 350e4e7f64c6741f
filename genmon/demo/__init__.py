"""The demo: the "agent never receives the generator's values" bug, and its two fixes, as a Faust app."""

from genmon.demo.app import PIPELINES, create_app

__all__ = ["PIPELINES", "create_app"]
