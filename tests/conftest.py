"""Shared fixtures: one real broker per kind per test session, a fresh demo app per test.

``--brokers embedded,kafka,secure`` (or ``GENMON_TEST_BROKERS``) runs every test that takes the
``broker`` fixture once per broker: the embedded Tansu broker, and a real single-node Apache Kafka 4
started from Maven Central's jars (needs Java 17+ and Maven). ``secure`` is that Kafka requiring
SASL_SSL with ACLs enforced (genmon.broker.secure): only the tests that name it in their ``brokers``
marker run on it (their apps carry credentials). The default is the embedded broker only.
With ``-n 2`` (pytest-xdist) each worker has brokers of its own.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from genmon.broker import BrokerProcess, EmbeddedBroker, KafkaBroker
from genmon.broker.secure import SecureKafkaBroker
from genmon.demo import create_app
from genmon.host.host import Host
from genmon.watch.logs import route_logging

os.environ["TZ"] = "UTC"  # times on the screen are local: the pictures are the same on every machine
time.tzset()


@pytest.fixture(scope="session", autouse=True)
def quiet_logging(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Faust logs to a file during tests, as it does under genmon."""
    path = tmp_path_factory.mktemp("logs") / "faust.log"
    route_logging(path)
    return path


def secured_kafka() -> SecureKafkaBroker:
    """Apache Kafka requiring SASL_SSL, ACLs enforced; ``alice`` may do anything on topics and groups
    (the suite's apps run as her), ``reader`` and ``writer`` only what a test grants them."""
    broker = SecureKafkaBroker(acls=True, ready_timeout=90.0)
    broker.start()
    for resource, name in (("topic", "*"), ("group", "*"), ("cluster", "kafka-cluster")):
        broker.grant("User:alice", resource, name, ["ALL"])
    return broker


BROKERS: dict[str, Callable[[], BrokerProcess]] = {
    "embedded": EmbeddedBroker,
    "kafka": KafkaBroker,
    "secure": secured_kafka,
}
OPT_IN = {"secure"}
"""Broker kinds a test runs on only when its ``brokers`` marker names them."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--brokers",
        default=os.environ.get("GENMON_TEST_BROKERS", "embedded"),
        help="comma list of the brokers the broker-facing tests run on: embedded, kafka [embedded]",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "broker" in metafunc.fixturenames:
        kinds = [kind.strip() for kind in metafunc.config.getoption("brokers").split(",") if kind.strip()]
        unknown = sorted(set(kinds) - set(BROKERS))
        if unknown:
            raise pytest.UsageError(
                f"--brokers: unknown {', '.join(unknown)}; choose from {', '.join(BROKERS)}"
            )
        only = metafunc.definition.get_closest_marker("brokers")
        if only is not None:  # a probe-side claim: proven on the brokers it names
            kinds = [kind for kind in kinds if kind in only.args]
        else:
            kinds = [kind for kind in kinds if kind not in OPT_IN]
        # Under pytest-xdist (``-n 2 --dist loadgroup``) the Kafka tests go to one worker as one group,
        # so each worker starts at most one Apache Kafka, and only one worker starts any.
        params = [
            pytest.param(kind, marks=pytest.mark.xdist_group(kind)) if kind in ("kafka", "secure") else kind
            for kind in kinds
        ]
        metafunc.parametrize("broker", params, indirect=True, scope="session")


@pytest.fixture(scope="session")
def broker(request: pytest.FixtureRequest) -> Iterator[BrokerProcess]:
    """A running broker of the kind the test is parametrized with (one per kind per session)."""
    running = BROKERS[request.param]()
    if running.address is None:
        running.start()
    try:
        yield running
    finally:
        running.stop()


def owned(broker: BrokerProcess) -> bool:
    """Whether genmon itself runs this broker (the embedded one), as opposed to a user's Kafka."""
    return isinstance(broker, EmbeddedBroker)


def broker_args(broker: BrokerProcess) -> list[str]:
    """The command-line options that put ``genmon -A``/``check`` on this broker, with the app's topics
    created before it starts (as a deployment has them; ``--embedded`` always does it)."""
    return ["--embedded"] if owned(broker) else ["--broker", broker.url, "--create-topics"]


@pytest.fixture
def app_id() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def start_host(broker: BrokerProcess, factory: Callable[[], Any]) -> Host:
    """A started host for the app ``factory`` builds, on the session's broker."""
    assert broker.address is not None
    embedded = owned(broker)
    host = Host(
        factory,
        broker=broker.address,
        embedded=embedded,
        broker_alive=broker.is_up if embedded else None,
        broker_pid=broker.pid if embedded else None,
        settle_seconds=5.0,
        create_topics=True,  # as deployed apps find them: created before the agents subscribe
    )
    return host.start()


@contextmanager
def running_host(broker: BrokerProcess, factory: Callable[[str], Any]) -> Iterator[Host]:
    """``factory(datadir)`` run by a host for the length of the block, then stopped."""
    with tempfile.TemporaryDirectory() as datadir:
        host = start_host(broker, lambda: factory(datadir))
        try:
            yield host
        finally:
            host.stop()


def start_demo_host(broker: BrokerProcess, app_id: str, datadir: str, rate: float = 20.0) -> Host:
    return start_host(
        broker,
        lambda: create_app(
            app_id,
            broker.url,
            rate,
            datadir,
            broker_settings=broker.faust_settings,
            topic_prefix=f"{app_id}-",
        ),
    )


@pytest.fixture
def demo_host(broker: BrokerProcess, app_id: str) -> Iterator[Host]:
    with running_host(
        broker,
        lambda datadir: create_app(app_id, broker.url, 20.0, datadir, broker.faust_settings, f"{app_id}-"),
    ) as host:
        yield host


EXIT_GRACE_SECONDS = 60.0
WORKER_GRACE_SECONDS = 5.0
EXIT_STATUS: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    EXIT_STATUS.append(int(exitstatus))


def pytest_unconfigure(config: pytest.Config) -> None:
    """The test process must end once the summary is printed.

    Tests run Faust apps in this process; an app whose stop hung is abandoned (as genmon's workers
    abandon theirs, and then ``os._exit``), and Faust's consumer runs in a ``mode`` service thread
    that is not a daemon: the interpreter would wait for it forever, and a CI run would only end at
    its own time limit. So those threads are named and the process ends with pytest's status. Any
    other hang at exit is caught by a watchdog: past a grace period every thread's stack is printed
    and the process ends with a failure status."""
    import faulthandler
    import sys
    import threading

    status = EXIT_STATUS[-1] if EXIT_STATUS else 1
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # An xdist worker still has to hand its last report to the controller after this hook, so
        # it is not cut short here: a daemon timer ends it if abandoned Faust threads hold it.
        timer = threading.Timer(WORKER_GRACE_SECONDS, lambda: os._exit(status))
        timer.daemon = True
        timer.start()
        return
    left = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    faust = [t for t in left if type(t).__module__.startswith(("mode.", "faust."))]
    if faust and len(faust) == len(left):
        names = ", ".join(sorted({t.name for t in faust}))
        print(f"\nconftest: {len(faust)} Faust service threads of abandoned apps left ({names})", flush=True)
        sys.stderr.flush()
        os._exit(status)

    def give_up() -> None:
        print(
            f"\nconftest: the test process did not exit {EXIT_GRACE_SECONDS:.0f} s after its summary; "
            "threads left running:",
            file=sys.stderr,
            flush=True,
        )
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        sys.stderr.flush()
        os._exit(3)

    timer = threading.Timer(EXIT_GRACE_SECONDS, give_up)
    timer.daemon = True
    timer.start()


def catalogue_host(broker: BrokerProcess, names: str, app_id: str, datadir: str) -> Host:
    """A started host running the demo's catalogue pipelines ``names`` (one app per bug, as
    ``genmon --scenarios`` does) on ``broker``, their topics created first."""
    from genmon.demo import plan, select

    assert broker.address is not None
    plans = plan(
        select(names),
        app_id=app_id,
        broker=broker.url,
        rate=10.0,
        datadir=datadir,
        broker_settings=broker.faust_settings,
        topic_prefix=f"{app_id}-",
    )
    return Host(
        factories=[(p.factory, p.delay) for p in plans],
        broker=broker.address,
        embedded=owned(broker),
        broker_alive=broker.is_up if owned(broker) else None,
        create_topics=True,
    ).start()
