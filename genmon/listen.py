"""Where genmon's endpoints listen (the browser screen, the Prometheus metrics): checked before
anything starts, so that a taken port is one line and exit status 2, not a half-started run."""

from __future__ import annotations

import ipaddress
import socket


class ListenError(Exception):
    """The address cannot be listened on (taken, not this machine's, not an address)."""


def loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (anything else reaches the endpoint from the network)."""
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        return False


def http_url(host: str, port: int, path: str = "") -> str:
    """``http://host:port/path`` as a browser or a scraper types it (an IPv6 host in brackets)."""
    return f"http://{f'[{host}]' if ':' in host else host}:{port}{path}"


def check_port(host: str, port: int, option: str) -> None:
    """Fail (:class:`ListenError`, naming ``option``) when ``host:port`` cannot be listened on now."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ListenError(f"{option} {host}: {exc.strerror or exc}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise ListenError(f"{option}: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
