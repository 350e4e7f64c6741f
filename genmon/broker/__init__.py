"""Brokers: parsing a ``--broker`` URL, checking it answers, and the brokers genmon runs itself
(the embedded Tansu broker, and a local Apache Kafka for tests and for users who want one)."""

from genmon.broker.address import (
    BrokerAddress,
    BrokerError,
    check_reachable,
    parse_broker_url,
    unreachable_because,
)
from genmon.broker.embedded import FAST_JOIN, EmbeddedBroker
from genmon.broker.kafka import KafkaBroker
from genmon.broker.process import BrokerProcess

__all__ = [
    "FAST_JOIN",
    "BrokerAddress",
    "BrokerError",
    "BrokerProcess",
    "EmbeddedBroker",
    "KafkaBroker",
    "check_reachable",
    "parse_broker_url",
    "unreachable_because",
]
