"""The in-process host's own rules (no broker needed: the app never gets that far)."""

from __future__ import annotations

import time

import pytest

from genmon.broker import BrokerAddress
from genmon.host.errors import HostError
from genmon.host.host import Host
from genmon.model import AppState


def test_an_app_that_does_not_start_in_time_keeps_the_timeout_as_its_reason() -> None:
    """Only the app's own thread writes its state, except one compare-and-set when the host gives up."""

    def slow_then_broken():  # type: ignore[no-untyped-def]
        time.sleep(1.0)
        raise RuntimeError("too late to matter")

    host = Host(slow_then_broken, broker=BrokerAddress("127.0.0.1", 9), embedded=True, start_timeout=0.2)
    with pytest.raises(HostError, match="did not start within 0s"):
        host.start()
    run = host.runs[0]
    time.sleep(1.2)  # the app's thread fails afterwards: the first reason stays
    assert run.state == AppState.CRASHED
    assert run.crash_reason() == "the Faust app did not start within 0s"
