"""The ``genmon`` command as a user runs it: headless JSON, the screen in a real terminal, its exits."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from procs import alive, children_of

from genmon.broker.process import free_port
from genmon.tui.served import WEB_DRIVER
from genmon.watch.logs import logs_root

GENMON = [sys.executable, "-m", "genmon"]


def run(args: list[str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GENMON, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def test_a_taken_port_is_one_line_and_exit_2_before_anything_starts(tmp_path: Path) -> None:
    import socket

    from genmon.broker import EmbeddedBroker

    with socket.socket() as taken, EmbeddedBroker() as broker:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for args, says in (
            (["--headless", "--prometheus", f"127.0.0.1:{port}"], "--prometheus: cannot listen on"),
            (["watch", "-b", broker.url, "--headless", "--prometheus", str(port)], "--prometheus: cannot"),
            (["serve", "-b", broker.url, "--port", str(port)], "--host/--port: cannot listen on"),
        ):
            done = run(args, tmp_path, timeout=20)
            assert done.returncode == 2 and done.stderr.count("\n") == 1, done
            assert done.stderr.startswith("genmon: error: ") and says in done.stderr, done.stderr
            assert list(tmp_path.iterdir()) == []
        # only the watcher's screen started by genmon serve goes without a terminal
        served = {**os.environ, "GENMON_SERVED": "1", "TEXTUAL_DRIVER": WEB_DRIVER}
        for args, env in (
            (["--broker", broker.url], served),  # the demo's screen would start an app: never served
            (["watch", "-b", broker.url], {**served, "TEXTUAL_DRIVER": ""}),  # not textual-serve's
            (["watch", "-b", broker.url], os.environ),
        ):
            done = subprocess.run(
                [*GENMON, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=20
            )
            assert done.returncode == 2 and "the screen needs a terminal" in done.stderr, done


def test_headless_json_reports_the_three_pipelines_and_keeps_its_log_when_asked(tmp_path: Path) -> None:
    port = free_port()
    scraped: list[str] = []

    def scrape() -> None:  # the demo's numbers on its Prometheus endpoint while it runs
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not scraped:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
                    text = answer.read().decode()
            except OSError:
                time.sleep(0.2)
                continue
            if re.search(
                r'genmon_values_total\{app="genmon-demo",pipeline="sync-pump",stage="processed"\} [1-9]', text
            ):
                scraped.append(text)
            time.sleep(0.2)

    watcher = threading.Thread(target=scrape, daemon=True)
    watcher.start()
    pid, done = _run_with_pid(
        ["--headless", "--duration", "8", "--json", "--keep-log", "--prometheus", f"127.0.0.1:{port}"],
        tmp_path,
    )
    watcher.join(5)
    assert scraped, "genmon --prometheus served the demo's counts while it ran"
    assert 'genmon_generator_on{app="genmon-demo",pipeline="unwired"} 1.0' in scraped[0]
    folder = logs_root() / f"run-{pid}"
    try:
        assert done.returncode == 0, done.stderr
        assert done.stderr == f"genmon: log kept: {folder / 'genmon.log'}\n"
        names = sorted(path.name for path in folder.iterdir())
        assert names == ["genmon.broker.log", "genmon.log", "genmon.w1.log", "genmon.w1.out"], names
        assert "genmon worker: stopping" in (folder / "genmon.w1.log").read_text()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    snap = json.loads(done.stdout)
    pipes = {p["name"]: p for p in snap["pipelines"]}
    assert set(pipes) == {"unwired", "sync-pump", "async-pump"}
    assert snap["broker"]["embedded"] is True and snap["broker"]["url"].startswith("kafka://127.0.0.1:")
    for name in ("sync-pump", "async-pump"):
        counts = pipes[name]["counts"]
        assert counts["yielded"] > 0 and len(set(counts.values())) == 1, counts
        assert pipes[name]["on"] is False and pipes[name]["verdict"]["lost"] == 0
    unwired = pipes["unwired"]
    assert unwired["counts"]["yielded"] > 0 and unwired["counts"]["sent"] == 0
    assert unwired["verdict"]["state"] == "lost" and unwired["verdict"]["stage"] == "sent"
    assert unwired["verdict"]["lost"] == unwired["counts"]["yielded"]
    assert list(tmp_path.iterdir()) == [], "nothing is left in the working directory"


def _run_with_pid(args: list[str], cwd: Path) -> tuple[int, subprocess.CompletedProcess[str]]:
    proc = subprocess.Popen(
        [*GENMON, *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    out, err = proc.communicate(timeout=90)
    return proc.pid, subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_headless_table_without_json_and_logs_removed(tmp_path: Path) -> None:
    pid, done = _run_with_pid(["--headless", "--duration", "3"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "lost at sent" in done.stdout and "sync-pump" in done.stdout
    assert not (logs_root() / f"run-{pid}").exists(), "a run that went well leaves no log behind"
    assert done.stderr == ""


# -- the screen in a real pseudo-terminal ---------------------------------------------------


def _brokers_of(pid: int) -> list[int]:
    """Tansu processes whose parent is ``pid``."""
    return children_of(pid, b"broker", b"--listener-url")


_alive = alive


class Terminal:
    """genmon on a pseudo-terminal of a given size; the screen's output is drained and kept."""

    def __init__(
        self,
        cwd: Path,
        columns: int = 120,
        lines: int = 35,
        args: tuple[str, ...] = (),
        tmpdir: Path | None = None,
    ) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(columns), LINES=str(lines))
        if tmpdir is not None:  # genmon's scratch files (log, broker, Faust data) go here
            tmpdir.mkdir(exist_ok=True)
            env["TMPDIR"] = str(tmpdir)
        self.proc = subprocess.Popen(
            [*GENMON, *args],
            cwd=cwd,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self.output = bytearray()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.output += chunk

    def wait_for_screen(self, timeout: float = 30) -> list[int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            brokers = _brokers_of(self.proc.pid)
            if brokers and b"sync-pump" in self.output:
                return brokers
            assert self.proc.poll() is None, self.text()
            time.sleep(0.2)
        raise AssertionError("the screen did not come up")

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def text(self) -> str:
        return self.output.decode(errors="replace")

    def finish(self, timeout: float = 30) -> tuple[int, str]:
        """Wait for genmon to exit; its exit status and everything it wrote to the terminal."""
        try:
            code = self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
        time.sleep(0.2)  # let the drain thread read the last bytes
        os.close(self.master)
        return code, self.text()


@pytest.mark.parametrize("how", ["q", "ctrl+c", "SIGTERM", "hang-up"])
def test_screen_exits_cleanly_and_leaves_no_broker(how: str, tmp_path: Path) -> None:
    term = Terminal(tmp_path)
    brokers = term.wait_for_screen()
    time.sleep(1.0)
    if how == "q":
        term.type(b"q")
    elif how == "ctrl+c":
        term.type(b"\x03")
    elif how == "hang-up":  # the terminal went away: its session leader gets SIGHUP
        os.close(term.master)
        term.master = os.open("/dev/null", os.O_RDONLY)  # finish() closes it
        term.proc.send_signal(signal.SIGHUP)
    else:
        term.proc.send_signal(signal.SIGTERM)
    started = time.monotonic()
    code, err = term.finish()
    assert time.monotonic() - started < 20
    assert "Traceback" not in err
    expected = {"q": 0, "ctrl+c": 0, "SIGTERM": 128 + signal.SIGTERM, "hang-up": 128 + signal.SIGHUP}[how]
    assert code == expected, (code, err)
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in brokers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in brokers), "the embedded broker outlived genmon"
    assert list(tmp_path.iterdir()) == [], "nothing is left in the working directory"
    if how != "hang-up":  # no terminal left to restore
        assert b"\x1b[?1049l" in term.output, "the terminal's normal screen is restored"


def test_broker_dies_with_genmon_even_on_sigkill(tmp_path: Path) -> None:
    # kill -9 leaves genmon no chance to clean its scratch folders: keep them in this test's folder
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    term = Terminal(cwd, tmpdir=tmp_path / "tmp")
    brokers = term.wait_for_screen()
    workers = children_of(term.proc.pid, b"genmon.fleet.worker")
    assert workers, "the demo runs in a worker process"
    os.killpg(term.proc.pid, signal.SIGKILL)
    term.finish()
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in brokers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in brokers)
    # the workers too: a worker must never outlive genmon, retrying the dead broker
    deadline = time.monotonic() + 40
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in workers)
    assert list(cwd.iterdir()) == [], "nothing is left in the working directory"


def test_terminal_too_small_is_refused(tmp_path: Path) -> None:
    term = Terminal(tmp_path, columns=60, lines=15)
    code, err = term.finish(timeout=15)
    assert code == 2
    assert err.strip() == ("genmon: error: terminal too small (60x15); genmon needs at least 80x20"), err
