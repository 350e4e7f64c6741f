"""Broker addresses as users type them, and the one-line errors when they are wrong."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass


class BrokerError(Exception):
    """A broker that is malformed, unreachable or would not start; the message is one line."""


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int

    @property
    def url(self) -> str:
        """The form Faust takes (``kafka://host:port``)."""
        return f"kafka://{self.host}:{self.port}"

    @property
    def bootstrap(self) -> str:
        """The form aiokafka takes (``host:port``)."""
        return f"{self.host}:{self.port}"


_URL = re.compile(r"^(?:kafka://)?(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.\-]+):(?P<port>\d{1,5})$")


def parse_broker_url(text: str) -> BrokerAddress:
    """Parse ``kafka://host:port`` (or ``host:port``); anything else is a :class:`BrokerError`."""
    match = _URL.match(text.strip())
    if not match:
        raise BrokerError(
            f"malformed broker URL {text!r}: expected kafka://HOST:PORT, e.g. kafka://localhost:9092"
        )
    port = int(match["port"])
    if not 0 < port < 65536:
        raise BrokerError(f"malformed broker URL {text!r}: port {port} is out of range 1-65535")
    return BrokerAddress(match["host"].strip("[]"), port)


def unreachable_because(address: BrokerAddress, timeout: float = 3.0) -> str | None:
    """Why nothing accepts connections at ``address`` (one line), or None when something does.

    The one reachability check: the command line uses it before anything starts, the host to keep
    an external broker's up/down honest.
    """
    try:
        with socket.create_connection((address.host, address.port), timeout=timeout):
            return None
    except socket.gaierror as exc:
        return f"unknown host ({exc})"
    except OSError as exc:
        return exc.strerror or str(exc) or type(exc).__name__


def check_reachable(address: BrokerAddress, timeout: float = 3.0) -> None:
    """Fail fast, in one line, when nothing accepts connections at ``address``.

    Faust would otherwise log a traceback and retry; a user who mistyped a port wants to know now.
    """
    reason = unreachable_because(address, timeout)
    if reason is not None:
        raise BrokerError(f"broker {address.url} is unreachable: {reason}")
