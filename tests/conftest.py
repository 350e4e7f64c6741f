"""Shared fixtures: one real embedded broker per test session, a fresh demo app per test."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from genmon.broker import FAST_JOIN, EmbeddedBroker
from genmon.demo import create_app
from genmon.host import Host, route_logging


@pytest.fixture(scope="session", autouse=True)
def quiet_logging(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Faust logs to a file during tests, as it does under genmon."""
    path = tmp_path_factory.mktemp("logs") / "faust.log"
    route_logging(path)
    return path


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as running:
        yield running


@pytest.fixture
def app_id() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def start_host(broker: EmbeddedBroker, factory: Callable[[], Any]) -> Host:
    """A started host for the app ``factory`` builds, on the session's broker."""
    assert broker.address is not None
    host = Host(factory, broker=broker.address, embedded=True, broker_alive=broker.is_up, settle_seconds=5.0)
    return host.start()


@contextmanager
def running_host(broker: EmbeddedBroker, factory: Callable[[str], Any]) -> Iterator[Host]:
    """``factory(datadir)`` run by a host for the length of the block, then stopped."""
    with tempfile.TemporaryDirectory() as datadir:
        host = start_host(broker, lambda: factory(datadir))
        try:
            yield host
        finally:
            host.stop()


def start_demo_host(broker: EmbeddedBroker, app_id: str, datadir: str, rate: float = 20.0) -> Host:
    return start_host(
        broker,
        lambda: create_app(
            app_id, broker.url, rate, datadir, broker_settings=FAST_JOIN, topic_prefix=f"{app_id}-"
        ),
    )


@pytest.fixture
def demo_host(broker: EmbeddedBroker, app_id: str) -> Iterator[Host]:
    with running_host(
        broker, lambda datadir: create_app(app_id, broker.url, 20.0, datadir, FAST_JOIN, f"{app_id}-")
    ) as host:
        yield host
