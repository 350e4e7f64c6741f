"""Runs a Faust app on its own loop in its own thread and exposes snapshots and commands."""

from genmon.host.apprun import one_line
from genmon.host.logs import LogRing, default_log_path, route_logging
from genmon.host.runner import Host, HostError

__all__ = ["Host", "HostError", "LogRing", "default_log_path", "one_line", "route_logging"]
