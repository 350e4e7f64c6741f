"""``genmon kafka``: a real Apache Kafka on loopback, as a user starts it, and gone when stopped.

Runs when the session's brokers include Kafka (``--brokers ...,kafka``): it needs Java and Maven.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from procs import alive, children_of

from genmon.broker import BrokerAddress, parse_broker_url, unreachable_because


@pytest.fixture
def with_kafka(request: pytest.FixtureRequest) -> None:
    if "kafka" not in request.config.getoption("brokers"):
        pytest.skip("needs --brokers ...,kafka (Java 17+ and Maven)")


@pytest.mark.usefixtures("with_kafka")
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_genmon_kafka_serves_until_stopped_and_leaves_nothing(how: signal.Signals, tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "genmon", "kafka"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("Apache Kafka 4."), line + proc.stderr.read()  # type: ignore[union-attr]
        url = line.split(" at ", 1)[1].split()[0]
        address: BrokerAddress = parse_broker_url(url)
        assert address.host == "127.0.0.1" and unreachable_because(address) is None
        (java,) = children_of(proc.pid, b"kafka.Kafka")
        proc.send_signal(how)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    deadline = time.monotonic() + 10
    while alive(java) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(java), "the Kafka broker outlived genmon kafka"
    assert "data is deleted" in proc.stderr.read()  # type: ignore[union-attr]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.usefixtures("with_kafka")
def test_genmon_kafka_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cases = [
            (["kafka", "--port", str(port)], f"port {port} on 127.0.0.1 is already in use", None),
            (["kafka", "--port", "0"], "0 is not in the range", None),
            (
                ["kafka"],
                "the local Kafka needs ",
                {"PATH": str(Path(sys.executable).parent)},
            ),  # java (or mvn)
        ]
        for args, says, env in cases:
            done = subprocess.run(
                [sys.executable, "-m", "genmon", *args],
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=60,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **env} if env else None,
            )
            lines = done.stderr.strip().splitlines()
            assert done.returncode == 2, done
            assert lines[-1].startswith("genmon: error: ") and says in lines[-1], done.stderr
            assert "Traceback" not in done.stderr
