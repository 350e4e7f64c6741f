"""``--record`` and ``genmon replay``: a run recorded as it happens, played back offline."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import broker_args

from genmon.broker import BrokerProcess

GENMON = [sys.executable, "-m", "genmon"]
ROOT = Path(__file__).resolve().parents[2]
PROBE_SIDE = pytest.mark.brokers("embedded")


def replay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GENMON, "replay", *args], capture_output=True, text=True, timeout=120)


@PROBE_SIDE
def test_a_recorded_catalogue_replays_to_what_the_run_printed(broker: BrokerProcess, tmp_path: Path) -> None:
    """Every bug of the catalogue, headless: the recording's replay at its end is the run's own JSON,
    byte for byte (rebuilt from the recorded reports and samples, not copied); an earlier moment is
    an earlier snapshot."""
    recording = tmp_path / "run.genmon"
    done = subprocess.run(
        [
            *GENMON,
            "--headless",
            "--json",
            "--scenarios",
            "all",
            "--duration",
            "8",
            "--record",
            str(recording),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    replayed = replay(str(recording), "--json")
    assert replayed.returncode == 0, replayed.stderr
    assert json.loads(replayed.stdout) == json.loads(done.stdout)
    size = recording.stat().st_size
    assert 0 < size < 2_000_000, size
    early = json.loads(replay(str(recording), "--json", "--at", "2").stdout)
    final = json.loads(done.stdout)
    assert early["uptime_seconds"] < final["uptime_seconds"]
    assert sum(p["counts"]["yielded"] for p in early["pipelines"]) < sum(
        p["counts"]["yielded"] for p in final["pipelines"]
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.genmon"], "nothing else left behind"
    from genmon.watch.replay import Replay

    played = Replay(str(recording))  # the log panel's lines too, up to the moment shown
    count, lines = played.since(0)
    assert count == len(lines) > 0 and any("genmon" in line or "faust" in line.lower() for line in lines)
    played.seek(0)
    assert played.since(0)[0] < count
    # the CI formats, made afterwards from the recording
    from junitparser import JUnitXml

    junit, summary = tmp_path / "late.xml", tmp_path / "late.md"
    made = replay(str(recording), "--json", "--junit", str(junit), "--summary", str(summary))
    assert made.returncode == 0, made.stderr
    cases = [case.name for suite in JUnitXml.fromfile(str(junit)) for case in suite]
    assert {p["name"] for p in final["pipelines"]} <= set(cases)  # a case per pipeline (and per app)
    assert "```mermaid" in summary.read_text()


@PROBE_SIDE
def test_a_recording_cut_by_kill_9_replays_up_to_its_last_second(
    broker: BrokerProcess, tmp_path: Path
) -> None:
    recording = tmp_path / "cut.genmon"
    command = [
        *GENMON,
        "-A",
        "tests.apps.hopmisnamed",
        *broker_args(broker),
        "--headless",
        "--duration",
        "60",
    ]
    run = subprocess.Popen(
        [*command, "--record", str(recording)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _all_sent(recording):  # the run, recorded so far
            time.sleep(0.5)
    finally:
        os.killpg(run.pid, signal.SIGKILL)  # genmon and its workers, with no chance to close anything
        run.wait()
    replayed = replay(str(recording), "--json")
    assert replayed.returncode == 0, replayed.stderr
    rows = {p["name"]: p for p in json.loads(replayed.stdout)["pipelines"]}
    assert rows["orders"]["counts"]["yielded"] == 20 and rows["misroute()"]["counts"]["sent"] == 19


def _all_sent(recording: Path) -> bool:
    """The recording so far shows every order yielded and every hop value sent (the run goes on)."""
    from genmon.model.recording import RecordingError
    from genmon.watch.replay import Replay

    try:
        rows = {p.name: p for p in Replay(str(recording)).snapshot().pipelines}
    except (RecordingError, OSError):
        return False
    return (
        "misroute()" in rows and rows["orders"].counts.yielded == 20 and rows["misroute()"].counts.sent == 19
    )


def test_a_file_that_is_not_a_whole_recording_is_one_line_and_status_2(tmp_path: Path) -> None:
    for name, data in (("empty", b""), ("garbage", b"\x00\x01garbage"), ("other", b"GENMON-RECORDING 9\nxx")):
        path = tmp_path / name
        path.write_bytes(data)
        done = replay(str(path))
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
        assert "Traceback" not in done.stderr and done.stderr.startswith("genmon: error: ")
    missing = replay(str(tmp_path / "nope.genmon"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
