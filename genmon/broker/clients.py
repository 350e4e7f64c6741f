"""The one place a Kafka client is made: every producer, consumer, admin client, connection and raw
socket genmon opens to a broker comes from here, with the address's security settings
(:class:`genmon.broker.security.Security`) — so a cluster the app can use, genmon can use, and no
client is ever made without them (``tests/unit/test_security.py`` fails on one made elsewhere).

aiokafka is imported lazily: the screen's process loads this module without paying for it until
it connects.
"""

from __future__ import annotations

import socket
from typing import Any

from genmon.broker.address import BrokerAddress
from genmon.broker.security import PLAINTEXT, Security

CLIENT_ID = "genmon"


def security_of(address: BrokerAddress) -> Security:
    return address.security or PLAINTEXT


def _common(address: BrokerAddress, kwargs: dict[str, Any]) -> dict[str, Any]:
    return {
        "bootstrap_servers": address.bootstrap,
        "client_id": CLIENT_ID,
        **security_of(address).aiokafka(),
        **kwargs,
    }


def producer(address: BrokerAddress, **kwargs: Any) -> Any:
    """An ``AIOKafkaProducer`` (call ``start()`` on the loop that will use it)."""
    from aiokafka import AIOKafkaProducer

    return AIOKafkaProducer(**_common(address, kwargs))


def consumer(address: BrokerAddress, **kwargs: Any) -> Any:
    """An ``AIOKafkaConsumer``; genmon's never join a group unless ``group_id`` is given."""
    from aiokafka import AIOKafkaConsumer

    return AIOKafkaConsumer(**_common(address, {"group_id": None, "enable_auto_commit": False, **kwargs}))


def admin(address: BrokerAddress, **kwargs: Any) -> Any:
    """An ``AIOKafkaAdminClient``."""
    from aiokafka.admin import AIOKafkaAdminClient

    return AIOKafkaAdminClient(**_common(address, kwargs))


def client(address: BrokerAddress, **kwargs: Any) -> Any:
    """An ``AIOKafkaClient`` (metadata, readiness, requests no higher-level client has)."""
    from aiokafka import AIOKafkaClient

    return AIOKafkaClient(**_common(address, kwargs))


async def connection(address: BrokerAddress, host: str, port: int, timeout_ms: int = 5000) -> Any:
    """One connected, authenticated ``AIOKafkaConnection`` to ``host:port``: what aiokafka's clients
    do first, with its errors unwrapped (a bootstrap hides them behind "Unable to bootstrap")."""
    from aiokafka.conn import create_conn

    kwargs = security_of(address).aiokafka()
    return await create_conn(host, port, client_id=CLIENT_ID, request_timeout_ms=timeout_ms, **kwargs)


def raw_socket(address: BrokerAddress, host: str, port: int, timeout: float) -> socket.socket:
    """A socket to ``host:port`` that speaks the address's transport (TLS where it is), for the
    health check's hand-made ApiVersions request (allowed before SASL authentication)."""
    sock = socket.create_connection((host, port), timeout=timeout)
    context = security_of(address).ssl_context()
    if context is None:
        return sock
    try:
        return context.wrap_socket(sock, server_hostname=host)
    except BaseException:
        sock.close()
        raise
