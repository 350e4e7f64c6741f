"""genmon on a cluster that requires TLS and SASL, with ACLs enforced: a real Apache Kafka 4
(genmon.broker.secure: a SASL_SSL listener with SCRAM-SHA-512 and PLAIN, a CA made at start, a
mutual-TLS listener) — the clusters companies run.

``check -A`` on an app whose own settings carry the credentials; ``-X`` for an app that has none;
a fleet of ``faust worker``s watched with ``-X``, in Prometheus and in Chromium, switched; every
connection error a user meets in one line; and least privilege: a watcher that may not write the
control topic, a worker that may not write the reports topic.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import Chromium
from prometheus_text import samples

from genmon.broker import clients
from genmon.broker.address import BrokerAddress
from genmon.broker.process import free_port
from genmon.broker.secure import SecureKafkaBroker

pytestmark = pytest.mark.brokers("secure")

GENMON = [sys.executable, "-m", "genmon"]
ROOT = Path(__file__).resolve().parents[2]
VALUES = 40


def app_env(broker: SecureKafkaBroker, app_id: str, user: str = "alice", **more: str) -> dict[str, str]:
    """tests/apps/secured.py's settings: the broker, the user and the CA its credentials name."""
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SECURED_BROKER": broker.url,
        "SECURED_CA": broker.ca,
        "SECURED_USER": user,
        "SECURED_PASSWORD": broker.passwords[user],
        "SECURED_APP_ID": app_id,
        **more,
    }


def run(args: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT, timeout: float = 150):
    return subprocess.run(
        [*GENMON, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def no_secret(broker: SecureKafkaBroker, *texts: str) -> None:
    for text in texts:
        for password in broker.passwords.values():
            assert password not in text, "a password reached genmon's output"


def create_topics(address: BrokerAddress, *names: str, partitions: int = 4) -> None:
    """As a deployment has them: created before the agents subscribe."""
    from aiokafka.admin import NewTopic

    async def create() -> None:
        admin = clients.admin(address)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(name, partitions, 1) for name in names])
        finally:
            await admin.close()

    asyncio.run(create())


def the_row(snapshot: dict[str, Any], name: str = "numbers") -> dict[str, Any]:
    return next(p for p in snapshot["pipelines"] if p["name"] == name)


# -- check -A ---------------------------------------------------------------------------------------------


def test_check_connects_with_the_apps_own_credentials(broker: SecureKafkaBroker, app_id: str) -> None:
    """The app's ``broker_credentials`` (SCRAM-SHA-512, an ``ssl_context`` with the CA) are genmon's
    too — in the worker and, handed over privately, in the watcher: exact counts, exit 0."""
    done = run(
        ["check", "-A", "tests.apps.secured", "--create-topics", "--duration", "4", "--json"],
        env=app_env(broker, app_id),
    )
    assert done.returncode == 0, done.stderr
    snapshot = json.loads(done.stdout)
    row = the_row(snapshot)
    assert [row["counts"][s] for s in ("yielded", "sent", "acked", "received", "processed")] == [VALUES] * 5
    assert "Traceback" not in done.stderr
    no_secret(broker, done.stdout, done.stderr)


def test_x_properties_connect_an_app_that_names_no_credentials(
    broker: SecureKafkaBroker, app_id: str
) -> None:
    """An app with no credentials of its own, pointed at the cluster with ``--broker`` and ``-X``
    (PLAIN this time): the app and genmon's clients take ``-X``'s."""
    done = run(
        [
            "check",
            "-A",
            "tests.apps.basic",
            "--broker",
            broker.url,
            "--create-topics",
            "--duration",
            "4",
            "--json",
            *broker.x_args("alice", "PLAIN"),
        ]
    )
    assert done.returncode == 0, done.stderr
    rows = {p["name"]: p for p in json.loads(done.stdout)["pipelines"]}
    assert rows["sync-orders"]["counts"]["processed"] == 30, rows["sync-orders"]
    no_secret(broker, done.stdout, done.stderr)


# -- errors: one line each, exit 2 ------------------------------------------------------------------------


def _errors(broker: SecureKafkaBroker) -> dict[str, tuple[str, list[str], str]]:
    """case -> (URL, -X arguments, what the line must say)."""
    alice = broker.properties()
    wrong = {**alice, "sasl.password": "not-her-password"}
    untrusted = {k: v for k, v in alice.items() if k != "ssl.ca.location"}
    sasl_plaintext = {**untrusted, "security.protocol": "SASL_PLAINTEXT"}
    tls_only = {"security.protocol": "SSL", "ssl.ca.location": broker.ca}
    mechanism = {**alice, "sasl.mechanism": "SCRAM-SHA-256"}
    internal = f"kafka://127.0.0.1:{broker.internal_port}"

    def x(props: dict[str, str]) -> list[str]:
        return [a for k, v in props.items() for a in ("-X", f"{k}={v}")]

    return {
        "wrong password": (
            broker.url,
            x(wrong),
            r"authentication failed for user alice \(SCRAM-SHA-512\) at "
            rf"127\.0\.0\.1:{broker.address.port}",
        ),
        "untrusted CA": (broker.url, x(untrusted), r"certificate genmon does not trust .*ssl\.ca\.location"),
        "plaintext on TLS": (broker.url, [], r"speaks TLS; genmon connected in plaintext"),
        "SASL plaintext on TLS": (broker.url, x(sasl_plaintext), r"speaks TLS.*security\.protocol=SASL_SSL"),
        "TLS on plaintext": (internal, x(alice), r"does not speak TLS"),
        "no SASL on a SASL listener": (broker.url, x(tls_only), r"requires SASL authentication"),
        "mechanism not enabled": (
            broker.url,
            x(mechanism),
            r"does not enable SASL mechanism SCRAM-SHA-256 \(it offers .*SCRAM-SHA-512",
        ),
        "no client certificate": (broker.mtls_url, x(tls_only), r"requires a client certificate"),
        "unknown property": (broker.url, ["-X", "sasl.usrname=alice"], r"unknown Kafka client property"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "wrong password",
        "untrusted CA",
        "plaintext on TLS",
        "SASL plaintext on TLS",
        "TLS on plaintext",
        "no SASL on a SASL listener",
        "mechanism not enabled",
        "no client certificate",
        "unknown property",
    ],
)
def test_a_connection_genmon_cannot_make_is_one_line(broker: SecureKafkaBroker, case: str) -> None:
    url, x_args, said = _errors(broker)[case]
    started = time.monotonic()
    done = run(["watch", "--broker", url, *x_args, "--headless", "--duration", "1"], timeout=30)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genmon: error: "), done.stderr
    assert re.search(said, lines[0]), lines[0]
    assert time.monotonic() - started < 20
    no_secret(broker, done.stdout, done.stderr)


def test_the_apps_wrong_password_is_one_line_naming_where_it_came_from(
    broker: SecureKafkaBroker, app_id: str, tmp_path: Path
) -> None:
    env = {**app_env(broker, app_id), "SECURED_PASSWORD": "not-her-password"}
    done = run(["check", "-A", "tests.apps.secured", "--duration", "2"], env=env, cwd=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = [line for line in done.stderr.strip().splitlines() if not line.startswith("genmon: log kept")]
    assert len(lines) == 1, done.stderr
    assert "authentication failed for user alice (SCRAM-SHA-512)" in lines[0], lines[0]
    assert "the app's broker_credentials" in lines[0], lines[0]
    assert list(tmp_path.iterdir()) == []


# -- a fleet watched with -X --------------------------------------------------------------------------------


class SecuredFleet:
    """``faust worker`` processes of tests/apps/secured.py, genmon attached (``GENMON_BROKER=app``)."""

    def __init__(self, broker: SecureKafkaBroker, app_id: str, folder: Path) -> None:
        self.broker, self.app_id, self.folder = broker, app_id, folder
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self, user: str = "alice", values: int = 100_000, genmon_x: bool = False, **env: str
    ) -> subprocess.Popen[bytes]:
        """A ``faust worker`` with ``GENMON_BROKER=app``; ``genmon_x``: ``genmon worker --report-to URL
        -X …`` instead (genmon's clients take the -X settings, passed in the environment)."""
        number = len(self.procs) + 1
        environ = app_env(
            self.broker,
            self.app_id,
            user,
            GENMON_BROKER="app",
            SECURED_VALUES=str(values),
            SECURED_DATADIR=str(self.folder),
            **env,
        )
        command = [sys.executable, "-m", "faust", "-A", "tests.apps.secured", "worker"]
        if genmon_x:
            environ.pop("GENMON_BROKER")
            command = [
                *GENMON,
                "worker",
                "-A",
                "tests.apps.secured",
                "--report-to",
                self.broker.url,
                *self.broker.x_args(user),
            ]
        with open(self.folder / f"w{number}.log", "ab") as log:
            proc = subprocess.Popen(
                [*command, "--without-web", "-l", "info"],
                cwd=ROOT,
                env=environ,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append(proc)
        return proc

    def log(self, number: int) -> str:
        return (self.folder / f"w{number}.log").read_text(errors="replace")

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture
def fleet(broker: SecureKafkaBroker, app_id: str) -> Iterator[SecuredFleet]:
    create_topics(broker.address, f"{app_id}-numbers")
    with tempfile.TemporaryDirectory() as folder:
        running = SecuredFleet(broker, app_id, Path(folder))
        try:
            yield running
        finally:
            running.stop()


def watch_json(broker: SecureKafkaBroker, app_id: str, *more: str, user: str = "alice") -> tuple[dict, str]:
    done = run(
        [
            "watch",
            "--broker",
            broker.url,
            *broker.x_args(user),
            "--app-id",
            app_id,
            "--headless",
            "--json",
            *more,
        ],
        timeout=120,
    )
    assert done.returncode in (0, 3), done.stderr
    no_secret(broker, done.stdout, done.stderr)
    return json.loads(done.stdout), done.stderr


def test_a_fleet_is_watched_scraped_and_switched_with_x(
    broker: SecureKafkaBroker, fleet: SecuredFleet, app_id: str, tmp_path: Path
) -> None:
    fleet.start()
    fleet.start(genmon_x=True)  # genmon worker -X: genmon's clients take -X, not the app's settings
    deadline = time.monotonic() + 90
    while True:  # two workers joining one group: a rebalance or two before values flow
        snapshot, _ = watch_json(broker, app_id, "--duration", "3")
        rows = [p for p in snapshot["pipelines"] if p["name"] == "numbers"]
        if (rows and rows[0]["counts"]["processed"] > 0) or time.monotonic() > deadline:
            break
    assert rows and rows[0]["counts"]["processed"] > 0, snapshot
    assert len([w for w in snapshot["workers"] if w["state"] == "alive"]) == 2, snapshot["workers"]
    # Prometheus, through a watcher given a properties file
    config = broker.write_client_properties("alice")
    port = free_port()
    watcher = subprocess.Popen(
        [
            *GENMON,
            "watch",
            "--broker",
            broker.url,
            "--kafka-config",
            config,
            "--app-id",
            app_id,
            "--headless",
            "--duration",
            "60",
            "--prometheus",
            str(port),
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        found: dict = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not found:
            time.sleep(1)
            try:
                text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
            except OSError:
                continue
            found = {k: v for k, v in samples(text).items() if k[0] == "genmon_values_total" and v > 0}
        assert found, "genmon_values_total on the secured cluster"
    finally:
        os.killpg(watcher.pid, signal.SIGTERM)
        watcher.wait(20)
    # the switches: --pause switches every generator off, in both workers, through the control topic
    snapshot, _ = watch_json(broker, app_id, "--duration", "2", "--pause")  # the default settle, as a fleet
    row = the_row(snapshot)
    assert row["on"] is False, row
    assert row["verdict"]["state"] not in ("lost", "unverifiable", "stuck"), row["verdict"]
    assert list(tmp_path.iterdir()) == []


def test_serve_shows_the_secured_fleet_in_chromium(
    broker: SecureKafkaBroker, fleet: SecuredFleet, app_id: str, tmp_path: Path
) -> None:
    fleet.start()
    port = free_port()
    server = subprocess.Popen(
        [
            *GENMON,
            "serve",
            "--broker",
            broker.url,
            *broker.x_args("alice"),
            "--app-id",
            app_id,
            "--port",
            str(port),
            "--settle",
            "2",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert server.stderr is not None
        line = server.stderr.readline().decode()
        assert line.startswith("genmon: serving"), line
        asyncio.run(_browse(f"http://127.0.0.1:{port}/", tmp_path))
        # the tab's watcher got the settings from a private file, never on its command line
        with open(f"/proc/{server.pid}/cmdline", "rb") as f:
            assert all(p.encode() not in f.read() for p in broker.passwords.values())
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)
    assert list(tmp_path.iterdir()) == []


async def _browse(url: str, tmp_path: Path) -> None:
    async with Chromium() as browser:
        page = await browser.open(url)
        await page.wait_for(r"numbers\s+[1-9]", timeout=90)
        shot = Path(
            os.environ.get("GENMON_BROWSER_SHOT", str(tmp_path.parent / "genmon-secured-browser.png"))
        )
        await page.screenshot(shot)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- least privilege ---------------------------------------------------------------------------------------


def test_a_watcher_that_may_not_write_control_shows_everything_and_refuses_switches(
    broker: SecureKafkaBroker, fleet: SecuredFleet, app_id: str
) -> None:
    """``reader`` may read every topic and describe groups — what a watcher needs to show — but not
    write genmon's control topic: the rows are there; a switch is refused in one clear line, and
    the generators keep running."""
    broker.grant("User:reader", "topic", "*", ["READ", "DESCRIBE"])
    broker.grant("User:reader", "group", "*", ["DESCRIBE"])
    fleet.start()
    deadline = time.monotonic() + 90
    while True:
        snapshot, said = watch_json(broker, app_id, "--duration", "3", user="reader")
        if any(p["name"] == "numbers" and p["counts"]["processed"] for p in snapshot["pipelines"]):
            break
        assert time.monotonic() < deadline, snapshot
    snapshot, said = watch_json(broker, app_id, "--duration", "2", "--pause", "--settle", "2", user="reader")
    assert "refused genmon's switch" in said and "WRITE on topic genmon-control" in said, said
    assert snapshot["switches_refused"], snapshot
    row = the_row(snapshot)
    assert row["on"] is True, "a refused switch is not shown as wanted"
    assert "Traceback" not in said


def test_a_worker_denied_its_report_topic_runs_its_app_at_full_speed(
    broker: SecureKafkaBroker, fleet: SecuredFleet, app_id: str
) -> None:
    """``writer`` may use the app's topics and group but none of genmon's: the worker's app runs and
    processes every value as fast as without genmon, its log says in one line why genmon cannot
    report, and a watcher beside a worker that does report says that a consumer sends no reports."""
    broker.grant("User:writer", "topic", app_id, ["ALL"], prefixed=True)
    broker.grant("User:writer", "group", app_id, ["ALL"], prefixed=True)
    values = 200  # at 50 a second: 4 s of yielding
    baseline = _without_genmon(broker, f"{app_id}-base", values, fleet.folder)
    started = time.monotonic()
    fleet.start(user="writer", values=values)
    assert _all_processed(broker, app_id, values, within=60), "the denied worker's app processed every value"
    took = time.monotonic() - started
    assert took < baseline + 5, f"the app took {took:.1f}s, {baseline:.1f}s without genmon: genmon held it up"
    log = fleet.log(1)
    assert "Traceback" not in log, log[-3000:]
    assert "genmon could not attach: the broker denied genmon's topics" in log, log[-3000:]
    fleet.start(user="alice")  # a worker that reports, in the same group
    deadline = time.monotonic() + 90
    while True:
        snapshot, _ = watch_json(broker, app_id, "--duration", "3")
        app = next((a for a in snapshot["apps"] if a["app"] == app_id), None)
        if app is not None and app["unreporting"] == 1:
            break
        assert time.monotonic() < deadline, snapshot["apps"]


def _without_genmon(broker: SecureKafkaBroker, app_id: str, values: int, folder: Path) -> float:
    """Seconds the same app, as the same user, takes to process ``values`` with no genmon attached."""
    create_topics(broker.address, f"{app_id}-numbers")
    env = app_env(broker, app_id, "writer", SECURED_VALUES=str(values), SECURED_DATADIR=str(folder))
    env.pop("GENMON_BROKER", None)
    started = time.monotonic()
    with open(folder / "baseline.log", "ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "faust",
                "-A",
                "tests.apps.secured",
                "worker",
                "--without-web",
                "-l",
                "info",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        assert _all_processed(broker, app_id, values, within=60), "the app alone processed every value"
        return time.monotonic() - started
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _all_processed(broker: SecureKafkaBroker, app_id: str, values: int, within: float) -> bool:
    """Whether the app's group committed every record of its topic (the app's own truth)."""
    from aiokafka import TopicPartition

    topic = f"{app_id}-numbers"

    async def committed() -> tuple[int, int]:
        consumer = clients.consumer(broker.address)
        admin = clients.admin(broker.address)
        await consumer.start()
        await admin.start()
        try:
            tps = [TopicPartition(topic, p) for p in range(4)]
            ends = await consumer.end_offsets(tps)
            offsets = await admin.list_consumer_group_offsets(app_id, partitions=tps)
            return sum(ends.values()), sum(m.offset for m in offsets.values() if m.offset > 0)
        finally:
            await consumer.stop()
            await admin.close()

    from aiokafka.errors import KafkaError

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            end, done = asyncio.run(committed())
        except KafkaError:  # the group's coordinator is not known yet: the app is still joining
            end, done = 0, 0
        if end >= values and done >= end:
            return True
        time.sleep(1)
    return False
