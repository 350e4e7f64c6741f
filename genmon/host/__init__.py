"""Runs Faust apps, each on its own loop in its own thread, and carries commands to them.

Imported lazily (PEP 562): the screen's process uses this package's samplers, logs and broker-truth
poller, never :class:`Host`, and must not import Faust for them.
"""

from typing import Any

__all__ = [
    "Host",
    "HostError",
    "LogRing",
    "default_log_path",
    "drain_limit",
    "route_logging",
    "wait_for",
    "wait_settled",
]

_WHERE = {
    "Host": "genmon.host.host",
    "HostError": "genmon.host.errors",
    "LogRing": "genmon.host.logs",
    "default_log_path": "genmon.host.logs",
    "route_logging": "genmon.host.logs",
    "wait_for": "genmon.host.waiting",
    "wait_settled": "genmon.host.waiting",
    "drain_limit": "genmon.host.waiting",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'genmon.host' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
