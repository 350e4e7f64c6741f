"""An agent that ends (``break`` out of its ``async for``): Faust neither restarts nor logs it, and
what is sent after waits on the topic. genmon names it — stuck behind an agent that returned, with
the lag — and never suggests a late consumer (tests/apps/ending.py; its correct form reads on)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import broker_args

from genmon.broker import BrokerProcess

GENMON = [sys.executable, "-m", "genmon"]
ROOT = Path(__file__).resolve().parents[2]


def run(broker: BrokerProcess, app_id: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GENMON, "check", "-A", "tests.apps.ending", *broker_args(broker), "--duration", "5", "--json"],
        env={**os.environ, "PYTHONPATH": str(ROOT), "ENDING_TOPIC": f"{app_id}-orders", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_an_agent_that_returns_leaves_its_values_stuck_with_its_name(
    broker: BrokerProcess, app_id: str
) -> None:
    done = run(broker, app_id)
    assert done.returncode == 1, done.stderr
    snapshot = json.loads(done.stdout)
    row = next(p for p in snapshot["pipelines"] if p["name"] == "orders")
    verdict = row["verdict"]
    assert (verdict["state"], verdict["cause"], verdict["stage"]) == ("stuck", "agent_dead", "received")
    assert row["counts"]["received"] == 10 and verdict["in_flight"] == 30
    assert verdict["text"].startswith("stuck at received: 30 (agent backfill returned at ")
    assert f"nothing read from {app_id}-orders since; lag 30)" in verdict["text"]
    why = row["diagnosis"]["why"]
    assert "break or return inside its async for" in why and "auto_offset_reset" not in why


def test_the_agent_that_reads_on_is_ok(broker: BrokerProcess, app_id: str) -> None:
    done = run(broker, app_id, ENDING_CORRECT="1")
    assert done.returncode == 0, done.stderr
    row = next(p for p in json.loads(done.stdout)["pipelines"] if p["name"] == "orders")
    assert row["counts"]["processed"] == 40 and row["verdict"]["state"] in ("ok", "paused")
