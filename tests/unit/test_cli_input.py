"""The ``genmon`` command's answers to a mistake: one line on stderr and exit status 2, before anything
starts — no broker, no Faust (``genmon --help`` and ``--version`` likewise)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

GENMON = [sys.executable, "-m", "genmon"]


def run(args: list[str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GENMON, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--broker", "not a url"], "malformed broker URL"),
        (["--broker", "kafka://127.0.0.1:1"], "unreachable"),
        (["--rate", "0"], "--rate"),
        (["--rate", "-1"], "--rate"),
        (["--rate", "abc"], "not a number"),
        (["--no-such-option"], "No such option"),
        (["--json"], "--json goes with --headless"),
        (["--headless", "--duration", "1e10"], "more than the maximum, 604800 s"),
        (["--headless", "--duration", "1e300"], "more than the maximum"),
        (["--settle", "1e9"], "more than the maximum, 3600 s"),
        (["--headless", "--scenarios", ","], "--scenarios ',' names no scenario"),
        (["--headless", "--scenarios", ""], "--scenarios '' names no scenario"),
        (["--headless", "--scenarios", "nope"], "unknown scenario 'nope'"),
        (["--version", "extra"], "No such command 'extra'"),
        (["--version", "check"], "--version takes no command"),
        (["check", "-A", "x", "--duration", "inf"], "must be a number greater than 0"),
        (["check", "-A", "x", "--embedded", "--junit", "/nonexistent/dir/r.xml"], "--junit: cannot write in"),
        (["watch", "--broker", "kafka://127.0.0.1:1", "--duration", "1e10"], "more than the maximum"),
        (["serve"], "genmon serve needs --broker URL"),
        (["serve", "--broker", "kafka://127.0.0.1:1"], "unreachable"),
        (["serve", "--broker", "kafka://127.0.0.1:1", "--port", "0"], "--port"),
        (["serve", "--broker", "kafka://127.0.0.1:1", "--public-url", "host:1"], "give an http:// or"),
        (["--prometheus", "abc"], "'abc' is not HOST:PORT"),
        (["--headless", "--prometheus", "127.0.0.1:70000"], "is not HOST:PORT"),
        (["watch", "--broker", "kafka://127.0.0.1:1", "--prometheus", "x:"], "is not HOST:PORT"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str],
    says: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The entry point itself (``genmon.cli.main``), in this process: the same code a shell runs."""
    from genmon.cli import main

    monkeypatch.chdir(tmp_path)
    started = time.monotonic()
    with pytest.raises(SystemExit) as ended:
        main(args)
    assert ended.value.code == 2
    assert time.monotonic() - started < 10
    out, err = capfd.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("genmon: error: ") and says in lines[0]
    assert "Traceback" not in err and out == ""
    assert list(tmp_path.iterdir()) == []


def test_a_mistake_in_a_new_process_is_one_line_too(tmp_path: Path) -> None:
    """``python -m genmon``, as a shell starts it: the interpreter adds nothing to the one line."""
    done = run(["--rate", "0"], tmp_path, timeout=15)
    assert done.returncode == 2, done
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("genmon: error: "), done.stderr
    assert done.stdout == "" and list(tmp_path.iterdir()) == []


def test_version_and_help(tmp_path: Path) -> None:
    assert run(["--version"], tmp_path).stdout.strip() == "genmon, version 0.1.0"
    helped = run(["--help"], tmp_path)
    assert helped.returncode == 0 and "--headless" in helped.stdout and "--broker" in helped.stdout
