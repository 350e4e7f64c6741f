"""Runs Faust apps, each on its own loop in its own thread, and carries commands to them."""

from genmon.host.host import Host, HostError
from genmon.host.logs import LogRing, default_log_path, route_logging
from genmon.host.waiting import wait_for, wait_settled

__all__ = ["Host", "HostError", "LogRing", "default_log_path", "route_logging", "wait_for", "wait_settled"]
