"""Brokers: parsing a ``--broker`` URL, checking it answers, and owning the embedded Tansu broker."""

from genmon.broker.address import (
    BrokerAddress,
    BrokerError,
    check_reachable,
    parse_broker_url,
    unreachable_because,
)
from genmon.broker.embedded import FAST_JOIN, EmbeddedBroker

__all__ = [
    "FAST_JOIN",
    "BrokerAddress",
    "BrokerError",
    "EmbeddedBroker",
    "check_reachable",
    "parse_broker_url",
    "unreachable_because",
]
