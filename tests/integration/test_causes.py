"""Every loss and every failure explained: a cause in the verdict, the JSON and ``check``'s lines.

One small app per case under tests/apps/ (values numbered from 1), the broken form next to the
correct one where the app has both.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import broker_args
from test_user_apps import ROOT, check

from genmon.broker import BrokerProcess

HEADLESS = ("--headless", "--json", "--duration", "8")
PROBE_SIDE = pytest.mark.brokers("embedded")
"""What happens inside the Faust process, the same whatever the broker: proven on the embedded one."""


@PROBE_SIDE
def test_a_module_autodiscovery_cannot_import_is_named_everywhere(broker: BrokerProcess) -> None:
    done = check("-A", "tests.apps.halfdiscovered", *broker_args(broker), "--duration", "3", "--json")
    missing = "tests.apps.halfdiscovered.invoices"
    error = "ModuleNotFoundError: No module named 'genmon_test_not_installed'"
    assert done.returncode == 1, done.stderr[-2000:]
    assert f"genmon: autodiscovery could not import {missing} ({error}): its agents and tasks do not run" in (
        done.stderr
    )
    snap = json.loads(done.stdout)
    assert snap["apps"][0]["not_imported"] == [f"{missing}: {error}"]
    orders = next(p for p in snap["pipelines"] if p["name"] == "orders")
    assert orders["counts"]["processed"] == 10  # the module that imported runs, and is counted
    table = check("-A", "tests.apps.halfdiscovered", *broker_args(broker), "--duration", "3")
    assert f"✗ not imported: {missing}" in " ".join(table.stdout.split())  # the title wraps
    assert f"  - app genmon-test-halfdiscovered: autodiscovery could not import {missing}: {error}" in (
        table.stdout
    )


@PROBE_SIDE
def test_an_app_under_two_names_runs(broker: BrokerProcess) -> None:
    done = check("-A", "tests.apps.aliased", *broker_args(broker), "--duration", "3", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    numbers = next(p for p in json.loads(done.stdout)["pipelines"] if p["name"] == "numbers")
    assert numbers["counts"]["processed"] == 5


@PROBE_SIDE
def test_values_behind_an_agent_that_crashed_and_stopped_reading_are_stuck_with_its_crash(
    broker: BrokerProcess,
) -> None:
    """The agent raises on click 7 one hop after the generator; Faust restarts it, and it reads
    nothing more: the clicks behind it are stuck (on the topic), named with the crash and the lag."""
    done = check("-A", "tests.apps.regrouped", *broker_args(broker), "--duration", "4", "--json")
    assert done.returncode == 1, done.stderr[-2000:]
    rows = {p["name"]: p for p in json.loads(done.stdout)["pipelines"]}
    clicks = rows["clicks"]
    verdict = clicks["verdict"]
    assert verdict["state"] == "stuck" and verdict["stage"] == "received", verdict
    assert verdict["cause"] == "agent_dead" and verdict["lost"] == 0
    assert verdict["in_flight"] == clicks["counts"]["acked"] - clicks["counts"]["received"] > 0
    assert "agent by_user raised RuntimeError('bad click 7') at " in verdict["text"], verdict
    assert "nothing read from regrouped-clicks since; lag " in verdict["text"], verdict
    assert (
        "stuck, not lost" in clicks["diagnosis"]["why"] and "except Exception" in clicks["diagnosis"]["fix"]
    )
    # the correct form: the same agent catching its error reads every click
    safe = rows["safe-clicks"]
    assert safe["verdict"]["state"] in ("ok", "paused") and safe["counts"]["processed"] == 60, safe["verdict"]
    assert rows["by_user_safe()"]["counts"]["processed"] == 60


@PROBE_SIDE
def test_values_behind_an_undecodable_value_are_stuck_with_the_decode_failure(broker: BrokerProcess) -> None:
    """Every 5th reading is raw bytes the agent cannot decode: those are lost (Faust commits them),
    and the readings behind them wait on the topic for an agent that reads nothing more — stuck,
    named with the ValueDecodeError, on a gate line of their own; the correct form reads all 40."""
    done = check("-A", "tests.apps.undecodable", *broker_args(broker), "--duration", "4", "--json")
    assert done.returncode == 1, done.stderr[-2000:]
    rows = {p["name"]: p for p in json.loads(done.stdout)["pipelines"]}
    readings = rows["readings"]
    verdict, counts = readings["verdict"], readings["counts"]
    assert (verdict["state"], verdict["stage"], verdict["cause"]) == ("lost", "received", "decode_failed")
    undecodable = [[n, n] for n in range(5, 41, 5)]
    assert readings["damaged"]["decode_failed"]["ranges"] == undecodable
    waiting = counts["acked"] - counts["received"] - verdict["lost"]
    rest = verdict["also"]
    if waiting:  # the agent read nothing after a failure: the rest waits on the topic
        assert (rest["state"], rest["cause"], rest["in_flight"]) == ("stuck", "agent_dead", waiting), rest
        assert "agent store raised ValueDecodeError(" in rest["text"] and "lag " in rest["text"], rest
    else:
        assert rest is None, rest
    lines = check("-A", "tests.apps.undecodable", *broker_args(broker), "--duration", "4").stdout
    gate = [line for line in lines.splitlines() if line.startswith("  - readings: ")]
    assert gate[0] == "  - readings: ids 5, 10, 15, 20, 25, 30, 35, 40 could not be decoded", gate
    for line in gate[1:]:  # the rest of this run's shortfall, if any: stuck, never called lost
        assert line.startswith("  - readings: stuck at received: ") and "ValueDecodeError(" in line, gate
    safe = rows["safe-readings"]
    assert safe["verdict"]["state"] in ("ok", "paused") and safe["counts"]["processed"] == 40, safe["verdict"]


@PROBE_SIDE
def test_a_send_that_raises_names_its_exception_at_the_stage_it_stopped(broker: BrokerProcess) -> None:
    """Caught by the code that sends, a send's exception is still the values' cause: before the
    producer took the value (the codec: lost at sent) or after (over the size limit: lost at acked)."""
    done = check("-A", "tests.apps.rejected", *broker_args(broker), "--duration", "4", "--json")
    assert done.returncode == 1, done.stderr[-2000:]
    rows = {p["name"]: p for p in json.loads(done.stdout)["pipelines"]}
    unserializable = rows["unserializable"]
    verdict = unserializable["verdict"]
    assert (verdict["state"], verdict["stage"], verdict["cause"]) == ("lost", "sent", "send_raised")
    assert unserializable["damaged"]["send_raised"]["ranges"] == [[n, n] for n in (6, 12, 18, 24, 30)]
    assert "send raised TypeError: JSON cannot serialize 'Customer'" in verdict["text"], verdict
    assert unserializable["counts"]["processed"] == 25  # the other values: the correct form arrives
    oversized = rows["oversized"]
    verdict = oversized["verdict"]
    assert (verdict["state"], verdict["stage"], verdict["cause"]) == ("lost", "acked", "send_failed")
    assert oversized["damaged"]["send_failed"]["ranges"] == [[10, 10], [20, 20], [30, 30]]
    assert "MessageSizeTooLargeError" in verdict["text"], verdict
    assert "producer_max_request_size" in oversized["diagnosis"]["fix"]
    assert oversized["counts"]["processed"] == 27


@PROBE_SIDE
def test_a_watched_fleet_whose_workers_all_failed_to_start_is_not_ok(
    broker: BrokerProcess, tmp_path: Path
) -> None:
    """Every ``faust worker`` gives up at start (its web port is taken): the app's error is the
    worker's, the row says the app crashed, and a headless watch that saw no value and no live
    worker exits 3 with one line saying why — never ``ok`` and 0."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    app_id = f"webbound-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "GENMON_BROKER": "app",
        "WEBBOUND_APP_ID": app_id,
        "WEBBOUND_BROKER": broker.url,
        "WEBBOUND_PORT": str(taken.getsockname()[1]),
        "WEBBOUND_DATADIR": str(tmp_path),
        "PYTHONPATH": str(ROOT),
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "faust", "-A", "tests.apps.webbound", "worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(2)
    ]
    try:
        watch = subprocess.run(
            [sys.executable, "-m", "genmon", "watch", "--broker", broker.url, "--app-id", app_id, *HEADLESS],
            capture_output=True,
            text=True,
            timeout=90,
            stdin=subprocess.DEVNULL,
        )
        assert [w.wait(30) for w in workers] != [0, 0]  # each gave up by itself
    finally:
        for w in workers:
            if w.poll() is None:
                os.killpg(w.pid, signal.SIGKILL)
        taken.close()
    assert watch.returncode == 3, watch.stderr[-2000:]
    snap = json.loads(watch.stdout)
    (app,) = snap["apps"]
    assert app["state"] == "crashed" and "address already in use" in app["error"], app
    (numbers,) = snap["pipelines"]
    assert numbers["verdict"]["state"] == "crashed" and "--web-port" in numbers["diagnosis"]["fix"]
    (line,) = [line for line in watch.stderr.splitlines() if line.startswith("genmon watch: ")]
    assert (
        line.startswith("genmon watch: no value seen and no worker alive")
        and "address already in use" in line
    )


@PROBE_SIDE
def test_a_loss_at_the_last_of_three_hops_names_the_generators_original_ids(
    broker: BrokerProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """orders → enrich (sink=) → route (event.forward) → bill, which raises on every 9th order: the
    hop's row counts the crash in its own numbering and names the origin's ids, the orders row says
    its values 9 and 18 died downstream and where; ``audit``, reading the same topic, is not
    blamed (another agent finishing a value says nothing about this one's crash)."""
    done = check("-A", "tests.apps.multihop", *broker_args(broker), "--duration", "4", "--json")
    assert done.returncode == 1, done.stderr[-2000:]
    rows = {p["name"]: p for p in json.loads(done.stdout)["pipelines"]}
    expected = [[9, 9], [18, 18]]
    orders = rows["orders"]
    assert orders["counts"]["processed"] == 20  # every order reached its first agent
    (downstream,) = orders["downstream"]
    assert (downstream["hop"], downstream["cause"], downstream["ids"]["ranges"]) == (
        "route()",
        "crashed",
        expected,
    )
    assert downstream["note"].startswith("agent bill raised RuntimeError('cannot bill order ")
    verdict = orders["verdict"]
    assert (verdict["state"], verdict["stage"], verdict["cause"], verdict["lost"]) == (
        "lost",
        None,
        "crashed",
        2,
    )
    assert verdict["text"].startswith("lost downstream: 2 at route() (agent bill raised RuntimeError(")
    route = rows["route()"]
    (upstream,) = route["upstream"]
    assert (upstream["origin"], upstream["cause"], upstream["ids"]["ranges"]) == (
        "orders",
        "crashed",
        expected,
    )
    assert route["damaged"]["crashed"]["count"] == 2 and route["verdict"]["text"].endswith(
        " — from orders 9, 18"
    )
    assert route["processed_by"]["audit"] == 20  # the correct agent beside it: every value
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")  # as in a GitHub workflow: annotations, a step summary
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    table = check("-A", "tests.apps.multihop", *broker_args(broker), "--duration", "4")
    # on the line of the tracked generator, in the checkout (the check's working directory)
    line = next(
        n
        for n, text in enumerate(Path(ROOT, "tests/apps/multihop.py").read_text().splitlines(), 1)
        if "genmon.track" in text
    )
    assert (
        f"::error file=tests/apps/multihop.py,line={line},title=genmon: orders::2 lost downstream at route() "
        "(agent bill raised" in table.stdout
    ), table.stdout[-3000:]
    chart = summary.read_text()
    assert chart.startswith("### genmon check: ") and "```mermaid\nflowchart LR\n" in chart
    assert '{{"bill"}}' in chart and "linkStyle " in chart  # the hop where they died, in red
    lines = [" ".join(line.split()) for line in table.stdout.splitlines() if line.startswith("  - ")]
    assert any(
        line.startswith("- orders: 2 lost downstream at route() (agent bill raised")
        and line.endswith("ids 9, 18")
        for line in lines
    ), lines
    assert any(line.endswith("on ids 9, 18 — from orders 9, 18") for line in lines), lines


@PROBE_SIDE
def test_a_silent_loss_at_a_later_hop_names_the_generators_original_ids(broker: BrokerProcess) -> None:
    """orders → enrich (sink=, drops order 5) → misroute, which sends every 7th order to a misspelled
    topic nothing reads: nothing raises, the values are acked and never received. The hop's row
    counts the loss in its own ids (6, 13) and names the origin's (7, 14); the orders row says its
    values died downstream, where and why — on the screen's verdict, in the JSON and in check's lines."""
    done = check("-A", "tests.apps.hopmisnamed", *broker_args(broker), "--duration", "4", "--json")
    assert done.returncode == 1, done.stderr[-2000:]
    rows = {p["name"]: p for p in json.loads(done.stdout)["pipelines"]}
    orders, hop = rows["orders"], rows["misroute()"]
    assert orders["counts"]["processed"] == 20 and hop["counts"]["sent"] == 19
    (downstream,) = orders["downstream"]
    assert (downstream["hop"], downstream["cause"], downstream["stage"], downstream["ids"]["ranges"]) == (
        "misroute()",
        None,
        "received",
        [[7, 7], [14, 14]],
    )
    assert downstream["note"].startswith("lost at received: probably a wrong topic name")
    verdict = orders["verdict"]
    assert (verdict["state"], verdict["stage"], verdict["lost"]) == ("lost", None, 2)
    assert verdict["text"].startswith("lost downstream: 2 at misroute() (lost at received: probably")
    assert hop["missing"]["received"]["ranges"] == [[6, 6], [13, 13]]  # the hop's own numbering
    (upstream,) = hop["upstream"]
    assert (upstream["origin"], upstream["ids"]["ranges"]) == ("orders", [[7, 7], [14, 14]])
    assert hop["verdict"]["text"].endswith(" — from orders 7, 14")
    assert rows["enrich()"]["verdict"]["state"] == "ok"  # the hop before it lost nothing
    table = check("-A", "tests.apps.hopmisnamed", *broker_args(broker), "--duration", "4")
    lines = [" ".join(line.split()) for line in table.stdout.splitlines() if line.startswith("  - ")]
    assert any(
        line.startswith("- orders: 2 lost downstream at misroute()") and line.endswith("ids 7, 14")
        for line in lines
    ), lines
    assert any(line.endswith("ids 6, 13 — from orders 7, 14") for line in lines), lines


@PROBE_SIDE
def test_a_send_never_awaited_at_a_later_hop_names_the_generators_ids(broker: BrokerProcess) -> None:
    """orders → route, which forgets the ``await`` on every 6th order's send: the coroutine is dropped
    before the hop gave the value an id, so only the origin can name it — by its own ids, at route(),
    with the fix."""
    done = check("-A", "tests.apps.hopunawaited", *broker_args(broker), "--duration", "4", "--json")
    assert done.returncode == 1, done.stderr[-2000:]
    rows = {p["name"]: p for p in json.loads(done.stdout)["pipelines"]}
    orders = rows["orders"]
    (downstream,) = orders["downstream"]
    assert (downstream["hop"], downstream["cause"], downstream["ids"]["ranges"]) == (
        "route()",
        "unawaited",
        [[6, 6], [12, 12], [18, 18]],
    )
    assert orders["verdict"]["text"] == "lost downstream: 3 at route() (send not awaited)"
    assert orders["diagnosis"]["fix"].startswith("await topic.send(value=...)")
    assert rows["route()"]["counts"]["sent"] == 17  # the hop counts only what it sent
