"""Broker addresses as users type them, and the one-line errors when they are wrong."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from genmon.broker.security import Security


class BrokerError(Exception):
    """A broker that is malformed, unreachable or would not start; the message is one line."""


@dataclass(frozen=True)
class BrokerAddress:
    """One broker, or a cluster's bootstrap list (``host``/``port`` are the first of ``servers``),
    and how to connect to it: ``security`` (plaintext unless given) goes wherever the address goes,
    so every client made for it (:mod:`genmon.broker.clients`) authenticates the same way."""

    host: str
    port: int
    more: tuple[tuple[str, int], ...] = ()
    """The other bootstrap servers, in the order given."""
    security: Security | None = field(default=None, compare=False, repr=False)
    """None: plaintext (:data:`genmon.broker.security.PLAINTEXT`)."""

    def secured(self, security: Security | None) -> BrokerAddress:
        """The same servers, connected to with ``security``."""
        return replace(self, security=security)

    @property
    def servers(self) -> tuple[tuple[str, int], ...]:
        return ((self.host, self.port), *self.more)

    @property
    def url(self) -> str:
        """The form Faust takes (``kafka://host:port``, ``;``-separated for several)."""
        return ";".join(f"kafka://{_host(h)}:{p}" for h, p in self.servers)

    @property
    def bootstrap(self) -> str:
        """The form aiokafka takes (``host:port``, comma-separated for several)."""
        return ",".join(f"{_host(h)}:{p}" for h, p in self.servers)


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


TRANSPORTS = ("kafka", "aiokafka")
"""The URL schemes of Faust's Kafka transport (``aiokafka`` is its alias)."""
DEFAULT_PORT = 9092
"""Faust's default when a URL names no port (``faust.transport.drivers.aiokafka.server_list``)."""
DEFAULT_HOST = "127.0.0.1"
_HOST = re.compile(r"^(?:[A-Za-z0-9_.\-]+|[0-9a-fA-F:.]+)$")


def parse_broker_url(text: str | list[str]) -> BrokerAddress:
    """What Faust's ``broker=`` accepts: ``kafka://host:port``, ``host:port``, a URL with no port
    (9092) or no host (127.0.0.1), the ``aiokafka://`` alias, several servers separated by ``,`` or
    ``;``, or a list of any of these — read with Faust's own ``urllist`` and the defaults of its
    aiokafka transport. Anything else is a :class:`BrokerError`."""
    from faust.utils.urls import urllist  # yarl only: cheap, no Faust app machinery

    shown = text if isinstance(text, str) else ", ".join(map(str, text))
    hint = "expected kafka://HOST:PORT (several: comma-separated), e.g. kafka://localhost:9092"
    try:
        urls = urllist(text.strip() if isinstance(text, str) else text, default_scheme="kafka")
    except (ValueError, TypeError) as exc:
        raise BrokerError(f"malformed broker URL {shown!r}: {exc}; {hint}") from None
    servers = []
    for url in urls:
        if url.scheme not in TRANSPORTS:
            raise BrokerError(f"malformed broker URL {shown!r}: genmon speaks kafka:// (not {url.scheme}://)")
        try:
            host, port = url.host or DEFAULT_HOST, url.port or DEFAULT_PORT
        except ValueError as exc:  # yarl: a port out of range
            raise BrokerError(f"malformed broker URL {shown!r}: {exc}") from None
        if not _HOST.match(host) or url.path not in ("", "/") or url.query_string:
            raise BrokerError(f"malformed broker URL {shown!r}: {hint}")
        if not 0 < port < 65536:
            raise BrokerError(f"malformed broker URL {shown!r}: port {port} is out of range 1-65535")
        servers.append((host, port))
    (host, port), *more = servers
    return BrokerAddress(host, port, tuple(more))


def unreachable_because(address: BrokerAddress, timeout: float = 3.0) -> str | None:
    """Why nothing accepts connections at any of ``address``'s servers (one line), or None when one
    does (a Kafka client bootstraps from any of them).

    The one reachability check: the command line uses it before anything starts, the host to keep
    an external broker's up/down honest.
    """
    reasons = []
    for host, port in address.servers:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return None
        except socket.gaierror as exc:
            reasons.append(f"unknown host ({exc})")
        except OSError as exc:
            reasons.append(exc.strerror or str(exc) or type(exc).__name__)
    return "; ".join(dict.fromkeys(reasons))


def check_reachable(address: BrokerAddress, timeout: float = 3.0) -> None:
    """Fail fast, in one line, when nothing accepts connections at ``address``.

    Faust would otherwise log a traceback and retry; a user who mistyped a port wants to know now.
    """
    reason = unreachable_because(address, timeout)
    if reason is not None:
        raise BrokerError(f"broker {address.url} is unreachable: {reason}")
