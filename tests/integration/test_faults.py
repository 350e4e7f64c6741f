"""Faults of the broker, put on the real embedded broker genmon runs itself: killed with sends in
flight, paused (SIGSTOP) and resumed. Each test asserts the exit (within its bound, its status, no
traceback, nothing left running, nothing in the working directory) and that the verdict names the
broker when the broker was at fault — never the app."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from procs import alive, children_of
from test_cli import Terminal

from genmon.broker import BrokerProcess
from genmon.cli.outcome import Exit
from genmon.fleet.watcher import Watcher
from genmon.model import Snapshot
from genmon.watch.logs import logs_root
from genmon.watch.waiting import wait_for

GENMON = [sys.executable, "-m", "genmon"]
ROOT = Path(__file__).resolve().parents[2]
STEADY_RUN = ["--create-topics", "--headless", "--json", "--duration", "9"]
SYNC_PUMP = ["--scenarios", "sync-pump"]
EXIT_BOUND_SECONDS = 25.0
"""From the end of the run to genmon's exit with a dead broker: the apps' stop is abandoned after
5 s and a worker killed after 8 s; docs/REFERENCE.md, "Exit statuses"."""


def _headless(tmp_path: Path, duration: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*GENMON, "--headless", "--json", "--duration", str(duration), "--scenarios", "sync-pump"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _broker_and_workers(pid: int, timeout: float = 30) -> tuple[list[int], list[int]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        brokers = children_of(pid, b"broker", b"--listener-url")
        workers = children_of(pid, b"genmon.fleet.worker")
        if brokers and workers:
            return brokers, workers
        time.sleep(0.2)
    raise AssertionError("genmon did not start its broker and worker")


def _none_left(pids: list[int]) -> bool:
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not any(alive(pid) for pid in pids)


def test_a_killed_broker_is_blamed_with_exact_counts_and_genmon_exits(tmp_path: Path) -> None:
    duration = 8.0
    proc = _headless(tmp_path, duration)
    try:
        brokers, workers = _broker_and_workers(proc.pid)
        time.sleep(4.0)  # values flow
        os.kill(brokers[0], signal.SIGKILL)
        killed = time.monotonic()
        out, err = proc.communicate(timeout=90)
        took = time.monotonic() - killed
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == Exit.BROKER_FAULT, (proc.returncode, err[-3000:])
    assert took < duration + EXIT_BOUND_SECONDS
    assert "Traceback" not in err and "Logging error" not in err, err[-3000:]
    snap = json.loads(out)
    assert snap["broker"]["up"] is False and snap["broker"]["state"] == "down"
    assert snap["broker"]["outages"][0]["state"] == "down" and snap["broker"]["outages"][0]["until"] is None
    (pipe,) = [p for p in snap["pipelines"] if p["name"] == "sync-pump"]
    counts, verdict = pipe["counts"], pipe["verdict"]
    # The worker's final report (written to a file: the report topic died with the broker) has
    # every value that was sent and never acknowledged: they are lost with the broker, not the app.
    assert counts["yielded"] == counts["sent"] > counts["acked"] >= counts["received"], counts
    assert verdict["cause"] == "broker" and verdict["state"] == "lost" and verdict["stage"] == "acked"
    assert verdict["lost"] == counts["sent"] - counts["acked"]
    assert verdict["text"].startswith(f"lost with the broker at acked: {verdict['lost']} (broker down since ")
    lines = err.strip().splitlines()
    assert "genmon: the broker failed during the run (down since " in err
    assert f"{verdict['lost']} values lost with it" in err
    assert lines[-1] == f"genmon: log kept: {logs_root() / f'run-{proc.pid}' / 'genmon.log'}", lines
    assert _none_left([*brokers, *workers]), "a worker or the broker outlived genmon"
    assert list(tmp_path.iterdir()) == []


def test_a_paused_broker_is_not_answering_and_nothing_is_lost_once_it_resumes(tmp_path: Path) -> None:
    proc = _headless(tmp_path, 11.0)
    try:
        brokers, workers = _broker_and_workers(proc.pid)
        time.sleep(3.0)
        os.kill(brokers[0], signal.SIGSTOP)  # alive, accepting connections, answering nothing
        time.sleep(5.0)
        os.kill(brokers[0], signal.SIGCONT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, (proc.returncode, err[-3000:])
    snap = json.loads(out)
    assert snap["broker"]["up"] is True
    (outage,) = snap["broker"]["outages"]
    assert outage["state"] == "not answering" and outage["until"] is not None
    (pipe,) = [p for p in snap["pipelines"] if p["name"] == "sync-pump"]
    counts = pipe["counts"]
    assert len(set(counts.values())) == 1 and counts["yielded"] > 0, counts  # the producer caught up
    assert pipe["verdict"]["lost"] == 0
    assert err.strip().splitlines() == [
        f"genmon: the broker did not answer for a while (not answering {outage['since']} to "
        f"{outage['until']}); nothing was lost"
    ]
    assert _none_left([*brokers, *workers])


def test_q_on_the_screen_after_the_broker_died_exits_within_its_bound(tmp_path: Path) -> None:
    term = Terminal(tmp_path, args=("--scenarios", "sync-pump"))
    brokers = term.wait_for_screen()
    workers = children_of(term.proc.pid, b"genmon.fleet.worker")
    time.sleep(2.0)
    os.kill(brokers[0], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while b"is down" not in term.output and time.monotonic() < deadline:
        time.sleep(0.2)
    assert b"is down" in term.output, "the screen says the broker is down"
    term.type(b"q")
    started = time.monotonic()
    code, text = term.finish(timeout=60)
    assert time.monotonic() - started < EXIT_BOUND_SECONDS
    assert code == Exit.BROKER_FAULT and "Traceback" not in text
    assert "genmon: the broker failed during the run (down since " in text
    assert "genmon: log kept: " in text  # the broker was down at quit: its log is what to read next
    assert _none_left([*brokers, *workers])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.brokers("embedded")
def test_two_runs_sharing_a_consumer_group_never_call_the_other_ones_share_lost(
    broker: BrokerProcess, app_id: str
) -> None:
    """Same app id on one broker: one consumer group, each run's agent gets about half the
    partitions. Neither run may call the values the other consumer took lost."""
    command = [*GENMON, "-A", "tests.apps.steady", "--broker", broker.url, "--create-topics"]
    command += ["--headless", "--json", "--duration", "5", "--settle", "2"]
    env = dict(os.environ, STEADY_APP_ID=app_id)
    runs = [
        subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    results = [run.communicate(timeout=150) for run in runs]
    for run, (out, err) in zip(runs, results, strict=True):
        assert run.returncode == 0, err[-2000:]
        (pipe,) = [p for p in json.loads(out)["pipelines"] if p["name"] == "steady"]
        counts, verdict = pipe["counts"], pipe["verdict"]
        assert counts["yielded"] == counts["sent"] == counts["acked"] > 0
        assert verdict["lost"] == 0 and verdict["state"] != "lost", verdict
        if counts["received"] < counts["acked"]:  # the other run's consumer had partitions of it
            assert verdict["state"] == "unverifiable"
            assert f"1 other consumer in group {app_id} takes a share of these partitions" in verdict["text"]
    shares = [
        next(p for p in json.loads(out)["pipelines"] if p["name"] == "steady")["counts"] for out, _ in results
    ]
    assert any(c["received"] < c["acked"] for c in shares), f"the group was not shared: {shares}"


def test_b_restarts_a_dead_embedded_broker_and_the_app_keeping_the_counts(tmp_path: Path) -> None:
    term = Terminal(tmp_path, args=("--scenarios", "sync-pump"))
    brokers = term.wait_for_screen()
    old_workers = children_of(term.proc.pid, b"genmon.fleet.worker")
    time.sleep(2.0)
    os.kill(brokers[0], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while b"restart broker" not in term.output and time.monotonic() < deadline:
        time.sleep(0.2)
    assert b"restart broker" in term.output, "b is offered in the footer once the broker is down"
    mark = len(term.output)
    term.type(b"b")
    deadline = time.monotonic() + 40
    new_brokers: list[int] = []
    while time.monotonic() < deadline:
        new_brokers = children_of(term.proc.pid, b"broker", b"--listener-url")
        if new_brokers and b"restarted the embedded broker" in term.output[mark:]:
            break
        time.sleep(0.3)
    assert new_brokers and new_brokers != brokers, "a new broker runs"
    assert b"restarted the embedded broker" in term.output[mark:]
    new_workers = children_of(term.proc.pid, b"genmon.fleet.worker")
    assert new_workers and not set(new_workers) & set(old_workers), "the app runs in new workers"
    assert not any(alive(pid) for pid in old_workers)
    deadline = time.monotonic() + 20
    while b"\xe2\x97\x8f up" not in term.output[mark:] and time.monotonic() < deadline:  # "● up"
        time.sleep(0.3)
    assert b"\xe2\x97\x8f up" in term.output[mark:], "the header says the broker is up again"
    time.sleep(3.0)
    term.type(b"q")
    code, text = term.finish(timeout=60)
    assert "Traceback" not in text
    # the values sent while the broker was dead are named at exit (the old worker's final report says
    # which): lost with the broker, never the app's
    assert code == Exit.BROKER_FAULT, (code, text[-2000:])
    assert "values lost with it" in text
    assert _none_left([*brokers, *new_brokers, *old_workers, *new_workers])
    assert list(tmp_path.iterdir()) == []


def _acked(snap: Snapshot, name: str) -> int:
    return next((p.counts.acked for p in snap.pipelines if p.name == name), 0)


def test_an_external_broker_restarted_on_its_port_is_recovered_from_by_itself(app_id: str) -> None:
    """A broker genmon does not run comes back (empty: Tansu keeps nothing): genmon keeps watching,
    its readers reconnect, the app's values flow again, and nothing is blamed on the app."""
    from genmon.broker import EmbeddedBroker

    with EmbeddedBroker() as external:
        proc = subprocess.Popen(
            [*GENMON, "-A", "tests.apps.steady", "--broker", external.url, *STEADY_RUN],
            cwd=ROOT,
            env=dict(os.environ, STEADY_APP_ID=app_id),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            # Restart it late in the run, once 4 s of values have flowed (not at a fixed time after
            # launch: a slow start would move the outage to the run's beginning, and the values lost
            # with it are put on the broker when the pipeline stops within a settle timeout of it).
            watcher = Watcher(external.address, accept=lambda r: any(a.app_id == app_id for a in r.apps))
            watcher.start()
            try:
                flowing = wait_for(watcher, lambda s: _acked(s, "steady") >= 80, 60)
            finally:
                watcher.stop()
            assert _acked(flowing, "steady") >= 80, "the steady pipeline flowed"
            external.restart()
            out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert "Traceback" not in err
    assert proc.returncode in (0, Exit.BROKER_FAULT, Exit.HUNG), (proc.returncode, err[-2000:])
    snap = json.loads(out)
    (outage,) = snap["broker"]["outages"]
    assert outage["until"] is not None and snap["broker"]["up"] is True
    (pipe,) = [p for p in snap["pipelines"] if p["name"] == "steady"]
    counts, verdict = pipe["counts"], pipe["verdict"]
    assert counts["yielded"] == counts["sent"] == counts["acked"] > 0, counts
    assert verdict["state"] != "lost" or verdict["cause"] == "broker", verdict
    if proc.returncode == 5:
        assert f"after the broker's outage at {outage['since']}" in err


def test_a_terminal_closed_under_a_busy_screen_ends_it_within_seconds(tmp_path: Path) -> None:
    """200 pipelines all moving (a fake monitor: no broker), the terminal goes away (its session
    leader gets SIGHUP and every read or write fails): the screen's process ends, not spins."""
    import fcntl
    import struct
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 35, 120, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).parents[1] / "busy_screen.py"), "200"],
        cwd=tmp_path,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=dict(os.environ, TERM="xterm-256color"),
        start_new_session=True,
    )
    os.close(slave)
    output = b""
    deadline = time.monotonic() + 20
    while b"gen-0007" not in output and time.monotonic() < deadline:
        output += os.read(master, 65536)
    assert b"gen-0007" in output, "the screen came up"
    time.sleep(2.0)
    os.close(master)  # the terminal is gone
    proc.send_signal(signal.SIGHUP)
    started = time.monotonic()
    try:
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert time.monotonic() - started < 5, "the screen's process outlived its terminal"
    assert proc.returncode == 128 + signal.SIGHUP
    assert list(tmp_path.iterdir()) == []
