"""genmon -A: the user's own apps, loaded as faust -A does, with rows found by observation."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import broker_args, owned
from test_fleet import create_topic

from genmon.broker import BrokerProcess
from genmon.host.host import Host
from genmon.host.loader import load_app, prepare_app
from genmon.model import Refused, Snapshot
from genmon.probe import Probe
from genmon.watch.waiting import wait_for, wait_settled

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def user_app(
    broker: BrokerProcess, spec: str, stop_seconds: float = 15.0, topics: tuple[str, ...] = ()
) -> Iterator[Host]:
    """What ``genmon -A spec --embedded`` (or ``--broker URL``) does, on the session's broker.

    ``topics``: topics the app only writes, created first as a deployment has them. A send to a topic
    that does not exist waits for the broker to create it (or, where it does not, retries until its
    timeout) and holds the producer's other batches meanwhile: an idiom's test must not hinge on that."""
    assert broker.address is not None
    for topic in topics:
        create_topic(broker.url.removeprefix("kafka://"), topic)
    probe = Probe()
    probe.install()
    module = spec.partition(":")[0]
    for name in [n for n in sys.modules if n == module or n.startswith(module + ".")]:
        del sys.modules[name]  # a Faust app runs once: each broker's run imports a fresh one
    with tempfile.TemporaryDirectory() as datadir:
        app, not_imported = load_app(spec, cwd=str(ROOT))
        prepare_app(app, broker=broker.url, broker_settings=broker.faust_settings, datadir=datadir)
        host = Host(
            lambda: app,
            broker=broker.address,
            embedded=owned(broker),
            probe=probe,
            listening_rows=True,
            create_topics=True,
        )
        host.runs[0].not_imported = not_imported
        host.start()
        try:
            yield host
        finally:
            host.stop(stop_seconds)


def settled(host: Host, ready, timeout: float = 40) -> Snapshot:  # type: ignore[no-untyped-def]
    wait_for(host, ready, timeout)
    host.set_all(False)
    wait_settled(host, limit=30)
    return host.snapshot(fresh=True)


def counts(snap: Snapshot, name: str) -> tuple[int, ...]:
    return snap.pipeline(name).counts.as_tuple()


def test_tracked_generators_task_timer_and_a_second_hop(broker: BrokerProcess) -> None:
    from tests.apps import basic

    with user_app(broker, "tests.apps.basic") as host:
        total = basic.SYNC_VALUES + basic.ASYNC_VALUES + basic.TASK_VALUES
        snap = settled(
            host, lambda s: any(p.name == "process()" and p.counts.processed == total for p in s.pipelines)
        )
    assert counts(snap, "sync-orders") == (basic.SYNC_VALUES,) * 5
    assert counts(snap, "async_orders") == (basic.ASYNC_VALUES,) * 5
    assert counts(snap, "legacy_import()") == (basic.TASK_VALUES,) * 5
    assert counts(snap, "process()") == (total,) * 5  # the agent forwarding to audit: hop two
    tick = snap.pipeline("tick()")
    assert tick.kind == "sender" and tick.counts.sent > 3 and tick.verdict.state in ("ok", "in_flight")

    names = [p.name for p in snap.pipelines]
    assert names.index("process()") > max(
        names.index(n) for n in ("sync-orders", "async_orders", "legacy_import()")
    )
    assert snap.pipeline("sync-orders").topics == ("basic-orders",)
    assert snap.pipeline("sync-orders").agents == ("process",)
    assert snap.pipeline("process()").topics == ("basic-audit",)
    assert snap.pipeline("process()").agents == ("archive",)
    for name in ("sync-orders", "async_orders", "legacy_import()", "process()"):
        assert snap.pipeline(name).verdict.state in ("ok", "paused"), snap.pipeline(name).verdict
    with pytest.raises(Refused, match="not a tracked generator"):
        host.set_generator("legacy_import()", False)


def test_group_by_and_a_table(broker: BrokerProcess) -> None:
    from tests.apps import grouped

    with user_app(broker, "tests.apps.grouped:app") as host:
        snap = settled(
            host,
            lambda s: any(
                p.name == "by_customer()" and p.counts.processed == grouped.VALUES for p in s.pipelines
            ),
        )
        grouped = sys.modules["tests.apps.grouped"]  # the copy the host runs (imported afresh)
        totals = {key: grouped.totals[key] for key in ("c0", "c1", "c2", "c3")}
    assert counts(snap, "orders") == (grouped.VALUES,) * 5
    repartition = snap.pipeline("by_customer()")
    assert repartition.counts.as_tuple() == (grouped.VALUES,) * 5
    assert repartition.topics[0].endswith("-repartition")
    assert not any(t.endswith("-changelog") for p in snap.pipelines for t in p.topics)
    assert sum(totals.values()) == sum(range(grouped.VALUES))


def test_autodiscovered_agents(broker: BrokerProcess) -> None:
    with user_app(broker, "tests.apps.discovered") as host:
        snap = settled(
            host, lambda s: any(p.name == "signups" and p.counts.processed == 15 for p in s.pipelines)
        )
    assert counts(snap, "signups") == (15,) * 5
    assert snap.pipeline("signups").agents == ("welcome",)


def test_unawaited_ids_and_an_agent_nobody_feeds(broker: BrokerProcess) -> None:
    with user_app(broker, "tests.apps.lossy") as host:
        snap = settled(host, lambda s: s.pipeline("events").counts.processed >= 20)
        with pytest.raises(Refused, match="lossy-refunds is a topic, not a tracked generator"):
            host.set_generator("lossy-refunds", False)
    pipe = snap.pipeline("events")
    assert pipe.verdict.cause == "unawaited"
    assert {n for a, b in pipe.damaged["unawaited"].ranges for n in range(a, b + 1)} == set(range(3, 31, 3))
    listening = snap.pipeline("lossy-refunds")
    assert listening.kind == "topic" and listening.agents == ("refund",)
    assert listening.verdict.state == "idle" and listening.verdict.text == "nothing sends here"
    assert "nothing sends to it" in snap.diagnose(listening).why


# -- genmon check, as CI runs it ------------------------------------------------------------


def check(*args: str, cwd: Path = ROOT, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "genmon", "check", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def shop_app(
    folder: Path,
    name: str = "shopapp",
    values: int = 20,
    chatty: bool = False,
    broker: object = "kafka://127.0.0.1:9",
    settings: dict[str, object] | None = None,
) -> str:
    """A small lossless app with ids of its own (a broker that lives for the session keeps topics);
    ``chatty``: it prints at import and for every value (print() debugging, as users do)."""
    unique = f"{name}-{uuid.uuid4().hex[:8]}"
    (folder / f"{name}.py").write_text(
        ("print('hello from the app')\nimport builtins\n" if chatty else "") + "import faust, genmon\n"
        f"app = faust.App({unique!r}, broker={broker!r}, web_enabled=False"
        + "".join(f", {key}={value!r}" for key, value in (settings or {}).items())
        + ")\n"
        f"t = app.topic({unique!r}, value_type=int, value_serializer='json')\n"
        "@genmon.track\n"
        "async def values():\n"
        f"    for n in range({values}):\n"
        "        yield n\n"
        "@app.agent(t)\n"
        "async def sink(stream):\n"
        "    async for n in stream:\n"
        + ("        print('got', n, flush=True)\n" if chatty else "        pass\n")
        + "@app.task\n"
        "async def pump():\n"
        "    async for n in values():\n"
        "        await t.send(value=n)\n"
    )
    return unique


def test_check_passes_a_lossless_app(broker: BrokerProcess, tmp_path: Path) -> None:
    shop_app(tmp_path)
    done = check("-A", "shopapp", *broker_args(broker), "--duration", "5", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    snap = json.loads(done.stdout)
    (pipe,) = snap["pipelines"]
    assert pipe["counts"] == {stage: 20 for stage in ("yielded", "sent", "acked", "received", "processed")}
    # the generator was declared at import, before the app ran: it is still the app's pipeline
    assert [app["pipelines"] for app in snap["apps"]] == [["values"]]
    # broker truth read after the run settled, not from a poll before the last values
    assert [o["on_topic"] for o in pipe["broker_offsets"]] == [20]
    # no <id>-data directory: genmon moved Faust's default data dir out of the working directory
    assert {p.name for p in tmp_path.iterdir()} - {"__pycache__"} == {"shopapp.py"}


@pytest.mark.brokers("embedded")  # the forms are parsed and resolved by genmon, whatever the broker
def test_every_broker_form_faust_takes_is_taken(broker: BrokerProcess, tmp_path: Path) -> None:
    """The app's own ``broker=``: a list whose first server is down, the second named with Faust's
    ``aiokafka://`` alias — Faust's URL handling, and reachable when any server answers."""
    assert broker.address is not None
    forms = ["kafka://127.0.0.1:1", f"aiokafka://{broker.address.host}:{broker.address.port}"]
    shop_app(tmp_path, "listed", values=8, broker=forms, settings=dict(broker.faust_settings))
    done = check("-A", "listed", "--create-topics", "--duration", "3", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    snap = json.loads(done.stdout)
    assert snap["broker"]["url"] == f"kafka://127.0.0.1:1;kafka://{broker.address.host}:{broker.address.port}"
    assert snap["pipelines"][0]["counts"]["processed"] == 8


@pytest.mark.brokers("embedded")  # the worker's output, whatever the broker
def test_an_app_that_prints_never_spoils_json_and_its_prints_reach_the_log(
    broker: BrokerProcess, tmp_path: Path
) -> None:
    shop_app(tmp_path, "chattyapp", values=10, chatty=True)
    done = check(
        "-A", "chattyapp", *broker_args(broker), "--duration", "4", "--json", "--keep-log", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    snap = json.loads(done.stdout)  # exactly one JSON document: nothing the app printed
    assert snap["pipelines"][0]["counts"]["processed"] == 10
    assert "hello" not in done.stdout
    announced = f"genmon: the app runs on the embedded broker at {snap['broker']['url']}\n"
    assert done.stderr == f"{announced}genmon: log kept: {snap['log']}\n"
    try:
        output = Path(snap["log"]).with_suffix(".w1.out").read_text()  # the worker's stdout and stderr
        assert "hello from the app" in output and "got 9" in output
    finally:
        shutil.rmtree(Path(snap["log"]).parent, ignore_errors=True)


def test_a_topic_created_after_the_agents_subscribed(broker: BrokerProcess, tmp_path: Path) -> None:
    """On a broker that does not create a topic when a consumer asks for it (Apache Kafka), an agent
    whose topic is first created by a send is assigned nothing until the consumer's next metadata
    refresh (5 minutes): check says so and names the fix. ``--create-topics`` avoids it."""
    fast = dict(broker.faust_settings)  # the group joins genmon would use on this broker
    topic = shop_app(tmp_path, settings=fast)
    done = check("-A", "shopapp", "--broker", broker.url, "--duration", "4", "--json", cwd=tmp_path)
    snap = json.loads(done.stdout)
    if broker.creates_topics_for_consumers:
        assert done.returncode == 0, done.stdout + done.stderr
        assert snap["apps"][0]["unassigned"] == []
        return
    assert done.returncode == 1, done.stdout + done.stderr
    assert snap["apps"][0]["unassigned"] == [topic]
    (pipe,) = snap["pipelines"]
    verdict = pipe["verdict"]  # stuck, not lost: the values wait on the broker, and the JSON says why
    assert verdict["state"] == "stuck" and verdict["stage"] == "received" and verdict["cause"] == "unassigned"
    assert f"{topic} is assigned to no consumer of" in verdict["text"]
    assert "--create-topics" in pipe["diagnosis"]["fix"] and "stuck, not lost" in pipe["diagnosis"]["why"]
    topic = shop_app(
        tmp_path, "again", settings=fast
    )  # a fresh topic: the first run's sends created the other
    text = check("-A", "again", "--broker", broker.url, "--duration", "3", cwd=tmp_path)
    assert text.returncode == 1
    said = " ".join(text.stdout.split())  # the report wraps long lines
    assert (
        f"{topic} is assigned to no consumer of {topic}" in said
    )  # then the partition counts, if they differ
    assert "It did not exist when the agents subscribed" in said
    topic = shop_app(tmp_path, "fixed", settings=fast)
    fixed = check("-A", "fixed", "--broker", broker.url, "--create-topics", "--duration", "4", cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr


@pytest.mark.brokers("embedded")  # an unawaited send is seen in the app's process, whatever the broker
def test_check_fails_an_app_with_a_known_loss(broker: BrokerProcess) -> None:
    done = check("-A", "tests.apps.lossy", *broker_args(broker), "--duration", "5")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "lost at sent: 10 (send not awaited)" in done.stdout
    assert (
        "events: lost at sent: 10 (send not awaited), ids 3, 6, 9, 12, 15, 18, 21, 24, 27, 30" in done.stdout
    )
    assert any(line.startswith("log: /") for line in done.stdout.splitlines()), done.stdout
    junit = Path(tempfile.mkdtemp(prefix="genmon-junit-")) / "genmon.xml"
    json_run = check(
        "-A", "tests.apps.lossy", *broker_args(broker), "--duration", "5", "--json", "--junit", str(junit)
    )
    assert json_run.returncode == 1
    cases = {case.get("name"): case for case in ET.parse(junit).getroot().iter("testcase")}
    (failure,) = cases["events"].findall("failure")
    assert failure.get("message") == (
        "events: lost at sent: 10 (send not awaited), ids 3, 6, 9, 12, 15, 18, 21, 24, 27, 30"
    )
    shutil.rmtree(junit.parent)
    events = next(p for p in json.loads(json_run.stdout)["pipelines"] if p["name"] == "events")
    assert events["verdict"]["stage"] == "sent" and events["verdict"]["cause"] == "unawaited"
    assert events["damaged"]["unawaited"]["ranges"] == [[n, n] for n in range(3, 31, 3)]


def test_a_check_that_saw_no_pipeline_does_not_pass(tmp_path: Path) -> None:
    """An app whose agents nothing feeds: nothing was checked, and check says so (exit 3)."""
    (tmp_path / "idle.py").write_text(
        "import faust\n"
        f"app = faust.App('idle-{uuid.uuid4().hex[:8]}', broker='kafka://127.0.0.1:9', web_enabled=False)\n"
        "t = app.topic('idle-in', value_type=int, value_serializer='json')\n"
        "@app.agent(t)\n"
        "async def sink(stream):\n"
        "    async for _ in stream:\n"
        "        pass\n"
    )
    done = check("-A", "idle", "--embedded", "--duration", "2", "--json", cwd=tmp_path)
    assert done.returncode == 3, done.stdout + done.stderr
    assert [p["kind"] for p in json.loads(done.stdout)["pipelines"]] == ["topic"]  # still one JSON document
    assert "genmon check: no pipeline seen: nothing sent to a topic during the run" in done.stderr
    allowed = check("-A", "idle", "--embedded", "--duration", "2", "--allow-empty", cwd=tmp_path)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "genmon check: 0 problems" in allowed.stdout


@pytest.mark.parametrize(
    ("files", "spec", "says"),
    [
        ({}, "nosuchmodule", "cannot import 'nosuchmodule': no module named 'nosuchmodule'"),
        ({"notapp.py": "app = 42\n"}, "notapp:app", "notapp:app is a int, not a faust.App"),
        ({"noapp.py": "x = 1\n"}, "noapp", "no faust.App in module 'noapp'"),
        (
            {"raises.py": "raise RuntimeError('config file missing')\n"},
            "raises",
            "importing 'raises' raised RuntimeError: config file missing",
        ),
        ({"broken.py": "def f(:\n"}, "broken", "syntax error in broken.py:1"),
        (
            {"interrupts.py": "raise KeyboardInterrupt\n"},
            "interrupts",
            "'interrupts' raised KeyboardInterrupt",
        ),
        ({"ends.py": "import os\nos._exit(0)\n"}, "ends", "exited (status 0) before its app started"),
        ({"noattr.py": "x = 1\n"}, "noattr:app", "module 'noattr' has no attribute 'app'"),
        (
            {
                "rocks.py": "import faust\n"
                "app = faust.App('rocks', broker='kafka://127.0.0.1:9', store='rocksdb://',"
                " web_enabled=False)\n"
                "totals = app.Table('totals', default=int)\n"
            },
            "rocks",
            "RocksDB bindings not installed? pip install faust-streaming-rocksdb or rocksdict; or keep the "
            "tables in memory: faust.App(..., store='memory://')",
        ),
    ],
)
def test_bad_app_input_is_one_line_and_exit_2(
    tmp_path: Path, files: dict[str, str], spec: str, says: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    for command in (["check", "-A", spec, "--embedded"], ["-A", spec, "--headless", "--embedded"]):
        done = subprocess.run(
            [sys.executable, "-m", "genmon", *command],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 2, done
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("genmon: error: ") and says in lines[0], done.stderr
        assert "Traceback" not in done.stderr


def test_tracked_generator_adds_a_header_only_under_genmon(broker: BrokerProcess, app_id: str) -> None:
    """The same app twice: under genmon's probe every value carries genmon's header (so the check
    below can see one); as a plain Faust run the values are identical and carry none."""
    import asyncio

    import faust

    import genmon
    from genmon.host.topics import create_missing_topics
    from genmon.probe import GenmonSensor, Probe, active_probe

    def run(probe: Probe | None, suffix: str) -> list[tuple[int, dict]]:
        received: list[tuple[int, dict]] = []

        async def main() -> None:
            with tempfile.TemporaryDirectory() as datadir:
                name = f"{app_id}-{suffix}"
                app = faust.App(
                    name, broker=broker.url, web_enabled=False, datadir=datadir, **broker.faust_settings
                )
                if probe is not None:
                    app.sensors.add(GenmonSensor(probe))
                topic = app.topic(f"{name}-plain", value_type=int, value_serializer="json")

                @genmon.track(name=f"plain-{suffix}")
                async def values():  # type: ignore[no-untyped-def]
                    for n in range(5):
                        yield n * 7

                @app.agent(topic)
                async def sink(stream):  # type: ignore[no-untyped-def]
                    async for event in stream.events():
                        received.append((event.value, dict(event.headers)))

                await create_missing_topics(app, broker.address)  # as a deployment has it
                await app.start()
                async for value in values():
                    await topic.send(value=value)
                for _ in range(100):
                    if len(received) == 5:
                        break
                    await asyncio.sleep(0.1)
                await app.stop()

        asyncio.run(main())
        return received

    probe = Probe()
    probe.install()
    try:
        watched = run(probe, "watched")
    finally:
        probe.uninstall()
    assert active_probe() is None
    plain = run(None, "plain")
    for received in (watched, plain):
        assert sorted(value for value, _ in received) == [0, 7, 14, 21, 28]  # 4 partitions: any order
    assert all(headers.get("genmon-id", b"").startswith(b"plain-watched@") for _, headers in watched)
    assert all("genmon-id" not in headers for _, headers in plain)


@pytest.mark.brokers("kafka")  # an embedded broker dies with its session: only Kafka keeps the switches
def test_a_new_session_starts_its_generators_on_whatever_the_last_one_left(broker: BrokerProcess) -> None:
    """check ends by switching the generators off; on a broker that outlives sessions (Kafka) that
    state stays on genmon-control, and the next check of the same app must not start paused."""
    for _ in range(2):
        done = check("-A", "tests.apps.lossy", *broker_args(broker), "--duration", "4", "--json")
        assert done.returncode == 1, done.stdout + done.stderr
        (events,) = [p for p in json.loads(done.stdout)["pipelines"] if p["name"] == "events"]
        assert events["counts"]["yielded"] == 30
