"""Apps fed from outside Faust: ``--feed TOPIC=FILE`` follows every line as a value whose id is its
line number (tests/apps/fed.py, its broken form tests/apps/fedcrash.py), and records another
producer leaves on a topic the app's consumer was never assigned are stuck, by Kafka's offsets."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import broker_args

from genmon.broker import BrokerProcess

GENMON = [sys.executable, "-m", "genmon"]
ROOT = Path(__file__).resolve().parents[2]
LINES = 30
BAD = [7, 14, 21, 28]  # the fedcrash agent raises on a negative amount


def orders_file(folder: Path, keyed: bool = False) -> Path:
    path = folder / "orders.jsonl"
    with open(path, "w") as f:
        for n in range(1, LINES + 1):
            value = json.dumps({"id": n, "amount": -1.0 if n in BAD else 9.5})
            f.write(f"customer-{n % 3}|{value}\n" if keyed else f"{value}\n")
    return path


def env(app_id: str, topic: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "FED_APP_ID": app_id, "FED_TOPIC": topic}


def check(
    broker: BrokerProcess,
    module: str,
    app_id: str,
    topic: str,
    *more: str,
    stdin: str | None = None,
    cwd: Path = ROOT,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GENMON, "check", "-A", module, *broker_args(broker), "--json", "--duration", "4", *more],
        env=env(app_id, topic),
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
    )


def feed_row(done: subprocess.CompletedProcess[str]) -> dict:
    snapshot = json.loads(done.stdout)
    return next(p for p in snapshot["pipelines"] if p["name"].startswith("feed:"))


def test_a_fed_app_is_followed_line_by_line(broker: BrokerProcess, app_id: str, tmp_path: Path) -> None:
    done = check(
        broker,
        "tests.apps.fed",
        app_id,
        f"{app_id}-orders",
        "--feed",
        f"{app_id}-orders={orders_file(tmp_path)}",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    row = feed_row(done)
    assert row["name"] == "feed:orders.jsonl"
    assert [row["counts"][s] for s in ("yielded", "sent", "acked", "received", "processed")] == [LINES] * 5
    assert row["agents"] == ["charge"] and row["topics"] == [f"{app_id}-orders"]
    assert [p for p in tmp_path.iterdir() if p.name != "orders.jsonl"] == []


def test_a_fed_apps_crashes_are_named_by_line(broker: BrokerProcess, app_id: str, tmp_path: Path) -> None:
    path = orders_file(tmp_path)
    done = subprocess.run(
        [
            *GENMON,
            "check",
            "-A",
            "tests.apps.fedcrash",
            *broker_args(broker),
            "--duration",
            "4",
            "--feed",
            f"{app_id}-orders={path}",
        ],
        env={**env(app_id, f"{app_id}-orders"), "GITHUB_ACTIONS": "true"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 1, done.stderr
    assert "feed:orders.jsonl: agent charge raised ValueError" in done.stdout
    assert "on lines 7, 14, 21, 28" in done.stdout, done.stdout
    annotated = [line for line in done.stdout.splitlines() if line.startswith("::error file=orders.jsonl")]
    assert [line.split(",")[1] for line in annotated] == [f"line={n}" for n in BAD], annotated


def test_a_keyed_feed_from_standard_input_at_a_rate(
    broker: BrokerProcess, app_id: str, tmp_path: Path
) -> None:
    text = orders_file(tmp_path, keyed=True).read_text()
    started = time.monotonic()
    done = check(
        broker,
        "tests.apps.fed",
        app_id,
        f"{app_id}-orders",
        "--feed",
        f"{app_id}-orders=-",
        "--feed-key-separator",
        "|",
        "--feed-rate",
        "20",
        stdin=text,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    row = feed_row(done)
    assert row["name"] == "feed:stdin" and row["counts"]["processed"] == LINES
    assert time.monotonic() - started > LINES / 20, "the rate paced the feed"


@pytest.mark.brokers("embedded")
def test_a_bad_feed_line_is_one_error_before_the_app_starts(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    path.write_text('{"id": 1, "amount": 1}\n{"id": 2,\n')
    started = time.monotonic()
    done = subprocess.run(
        [*GENMON, "check", "-A", "tests.apps.fed", "--embedded", "--feed", f"fed-orders={path}"],
        env=env("x", "fed-orders"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    said = "not a JSON value (Expecting property name enclosed in double quotes, column 10)"
    assert done.stderr.strip().splitlines() == [f"genmon: error: {path}:2: {said}"]
    assert time.monotonic() - started < 10, "before any broker or app started"


@pytest.mark.brokers("kafka")
def test_records_from_another_producer_on_an_unassigned_topic_are_stuck(broker: BrokerProcess) -> None:
    """On Apache Kafka without --create-topics: the agent's topic does not exist when the group
    subscribes ("Ignoring missing topic"); another producer auto-creates it with its records, which
    nobody will read until the next metadata refresh — stuck, with the fix named, exit 1."""
    app_id = f"t{uuid.uuid4().hex[:10]}"
    topic = f"{app_id}-orders"
    proc = subprocess.Popen(
        [*GENMON, "check", "-A", "tests.apps.fed", "--broker", broker.url, "--json", "--duration", "25"],
        env=env(app_id, topic),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _group_has_members(broker, app_id, within=60), "the app's group formed"
        asyncio.run(_produce(broker, topic, 5))
        out, err = proc.communicate(timeout=150)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, err
    snapshot = json.loads(out)
    row = next(p for p in snapshot["pipelines"] if p["name"] == topic)
    assert row["verdict"]["state"] == "stuck" and row["verdict"]["cause"] == "unassigned", row["verdict"]
    assert row["verdict"]["in_flight"] == 5
    assert "--create-topics" in row["verdict"]["text"]


async def _produce(broker: BrokerProcess, topic: str, count: int) -> None:
    from genmon.broker import clients

    producer = clients.producer(broker.address)  # another producer: no genmon header
    await producer.start()
    try:
        for n in range(1, count + 1):
            await producer.send_and_wait(topic, json.dumps({"id": n, "amount": 1.0}).encode())
    finally:
        await producer.stop()


def _group_has_members(broker: BrokerProcess, group: str, within: float) -> bool:
    from genmon.broker import clients

    async def members() -> int:
        admin = clients.admin(broker.address)
        await admin.start()
        try:
            (response,) = await admin.describe_consumer_groups([group])
            return sum(len(g[5]) for g in response.groups if g[0] == 0 and g[2] == "Stable")
        finally:
            await admin.close()

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if asyncio.run(members()):
                return True
        except Exception:
            pass
        time.sleep(0.5)
    return False


@pytest.mark.brokers("embedded")
def test_with_json_the_annotations_go_to_stderr(broker: BrokerProcess, app_id: str, tmp_path: Path) -> None:
    """Under GitHub Actions with --json, stdout is the JSON document: the annotations go to stderr."""
    done = subprocess.run(
        [
            *GENMON,
            "check",
            "-A",
            "tests.apps.fedcrash",
            *broker_args(broker),
            "--duration",
            "4",
            "--json",
            "--feed",
            f"{app_id}-orders={orders_file(tmp_path)}",
        ],
        env={**env(app_id, f"{app_id}-orders"), "GITHUB_ACTIONS": "true"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 1, done.stderr
    row = feed_row(done)  # stdout is JSON alone
    assert row["damaged"]["crashed"]["ranges"] == [[n, n] for n in BAD]
    annotated = [line for line in done.stderr.splitlines() if line.startswith("::error file=orders.jsonl")]
    assert [line.split(",")[1] for line in annotated] == [f"line={n}" for n in BAD], done.stderr
