"""A real Apache Kafka 4 on this machine: single node, KRaft mode, loopback only, gone when stopped.

For genmon's tests (every broker-facing test runs on it as well as on the embedded broker) and for
users who want a real Kafka without installing one (``genmon kafka``). Needs Java 17+ and Maven:
the broker's jars are resolved from Maven Central once per machine with the ``pom.xml`` beside this
module and cached (``$GENMON_KAFKA_HOME``, else ``~/.cache/genmon``); the storage is formatted in a
scratch directory that is removed at stop.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path

from genmon.broker.address import BrokerAddress, BrokerError, unreachable_because
from genmon.broker.process import BrokerProcess, free_port

POM = Path(__file__).resolve().parent / "maven" / "pom.xml"
ENV_HOME = "GENMON_KAFKA_HOME"
HEAP = "-Xmx512m"
"""It shares two cores and the memory with Faust, Tansu and the tests."""

SERVER_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:{controller}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={data}
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
"""
"""Kafka's defaults, except what one node needs (replication 1) and no 3 s wait before a new
group's first rebalance (``group.initial.rebalance.delay.ms``, a broker setting, not the app's)."""


def kafka_version() -> str:
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text())
    assert match, "the pom names no kafka.version"
    return match.group(1)


def _cache_root() -> Path:
    return Path(os.environ.get(ENV_HOME) or Path.home() / ".cache" / "genmon")


def _need(tool: str, why: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise BrokerError(f"the local Kafka needs {tool} on PATH ({why})")
    return found


def jars_folder() -> Path:
    return _cache_root() / f"kafka-{kafka_version()}" / "libs"


def jars_cached() -> bool:
    return (jars_folder() / ".complete").exists()


def resolve_jars(quiet: bool = True) -> Path:
    """The folder of the broker's jars: cached, or resolved now from Maven Central with Maven."""
    libs = jars_folder()
    if jars_cached():
        return libs
    mvn = _need("mvn", "to fetch Apache Kafka's jars from Maven Central once")
    libs.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="libs-", dir=libs.parent))
    done = subprocess.run(
        [
            mvn,
            *(["-q"] if quiet else []),
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        last = (done.stdout + done.stderr).strip().splitlines()
        raise BrokerError(
            f"Maven could not fetch Kafka {kafka_version()}: {last[-1] if last else done.returncode}"
        )
    (staging / ".complete").touch()
    if libs.exists():  # another run finished first: keep one copy
        shutil.rmtree(staging, ignore_errors=True)
    else:
        staging.rename(libs)
    return libs


class KafkaBroker(BrokerProcess):
    """One Apache Kafka process in KRaft combined mode (broker and controller), storage in scratch."""

    name = "local Kafka"
    slug = "kafka"
    faust_settings = {}  # Kafka answers a first join at once (group.initial.rebalance.delay.ms=0)
    stop_grace = 15.0  # a controlled shutdown takes a few seconds

    def __init__(
        self, log_path: Path | None = None, ready_timeout: float = 60.0, port: int | None = None
    ) -> None:
        super().__init__(log_path, ready_timeout, port)
        self.version = kafka_version()

    def prepare(self, workdir: Path, port: int) -> None:
        config = workdir / "server.properties"
        config.write_text(SERVER_PROPERTIES.format(port=port, controller=free_port(), data=workdir / "data"))
        self.format(config)

    def format(self, config: Path, *extra: str) -> None:
        """Format the KRaft storage ``config`` names (``extra``: e.g. ``--add-scram`` users)."""
        self._java = _need("java", "Java 17 or newer runs the broker")
        self._classpath = f"{resolve_jars()}/*"
        cluster = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        formatted = subprocess.run(
            [
                self._java,
                HEAP,
                "-cp",
                self._classpath,
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                f"--cluster-id={cluster}",  # an id may start with "-": never a separate argument
                "-c",
                str(config),
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if formatted.returncode != 0:
            last = (formatted.stdout + formatted.stderr).strip().splitlines()
            raise BrokerError(
                f"formatting Kafka's storage failed: {last[-1] if last else formatted.returncode}"
            )

    def command(self, workdir: Path, port: int) -> Sequence[str]:
        return [
            self._java,
            HEAP,
            "-Xms64m",
            "-XX:+UseSerialGC",
            "-Djava.awt.headless=true",
            "-cp",
            self._classpath,
            "kafka.Kafka",
            str(workdir / "server.properties"),
        ]

    def ready(self) -> bool:
        """Kafka accepts connections before it can answer: ready once a metadata request succeeds."""
        assert self.address is not None
        if unreachable_because(self.address, timeout=0.2) is not None:
            return False
        return asyncio.run(_answers(self.address))


async def _answers(address: BrokerAddress) -> bool:
    from genmon.broker import clients

    client = clients.client(address, request_timeout_ms=2000)
    try:
        await client.bootstrap()
        return bool(client.cluster.brokers())
    except Exception:
        return False
    finally:
        await client.close()
