"""Brokers: parsing a ``--broker`` URL, checking it answers, and owning the embedded Tansu broker."""

from genmon.broker.address import BrokerAddress, BrokerError, check_reachable, parse_broker_url
from genmon.broker.embedded import EmbeddedBroker

__all__ = ["BrokerAddress", "BrokerError", "EmbeddedBroker", "check_reachable", "parse_broker_url"]
