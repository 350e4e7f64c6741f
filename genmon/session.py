"""One run of genmon, from the command line's options to a started host, and back down again.

Everything that is started here is stopped here, on every way out (an ExitStack unwinds it):
the Faust apps, the embedded broker, the scratch directory that holds Faust's data.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from pyroaring import FrozenBitMap

from genmon.broker import FAST_JOIN, BrokerAddress, EmbeddedBroker, check_reachable, parse_broker_url
from genmon.broker.handshake import check_connects
from genmon.broker.security import PLAINTEXT, Security, from_properties, read_properties, write_properties
from genmon.fleet import signing
from genmon.fleet.processes import WorkerProcesses
from genmon.fleet.watcher import Watcher
from genmon.host.errors import HostError
from genmon.model import AppState, Snapshot
from genmon.watch.logs import LogRing, LogTail, default_log_path, route_logging
from genmon.watch.recorder import Recorder, attach
from genmon.watch.waiting import drain_limit, wait_settled

START_SECONDS = 60.0
WATCH_HISTORY_SECONDS = 3600.0
"""``genmon watch`` ignores workers whose last report is older (last week's fleet on a long-lived broker)."""


@dataclass
class Options:
    """What the command line asked for (already validated by click)."""

    broker_url: str | None = None
    embedded: bool = False
    app_spec: str | None = None
    rate: float = 10.0
    settle: float = 5.0
    scenarios: list[str] = field(default_factory=list)
    app_id: str = "genmon-demo"
    loglevel: int = logging.INFO
    create_topics: bool = False
    workers: int = 1
    prometheus: tuple[str, int] | None = None
    """Where to serve Prometheus metrics (host, port), if asked."""
    record: str | None = None
    """Record the run to this file (``--record``)."""
    security: Security | None = None
    """``-X``/``--kafka-config``: how genmon's clients (and an app that names no credentials of its
    own) authenticate; None: the app's own credentials (``-A``), else plaintext."""
    feeds: list[Any] = field(default_factory=list)
    """``--feed``s (genmon.model.feed.Feed), read and checked already: produced by worker 1."""
    announce_broker: bool = False
    """With -A on the embedded broker: say its URL on stderr once the app runs (``check``,
    ``--headless``), so a user can feed the app by hand."""


@dataclass
class Running:
    watcher: Watcher
    ring: LogRing
    descriptions: dict[str, str]
    workers: WorkerProcesses | None = None
    hung: list[str] = field(default_factory=list)
    """Apps whose stop hung past the worker's bound and were abandoned (filled once stopped)."""
    finals: list[Any] = field(default_factory=list)
    """The workers' final reports as they wrote them to files (filled once stopped): what genmon
    knows at the end when the broker, and with it the report topic, is gone."""
    recover: Callable[[], str] | None = None
    """Restart the embedded broker and the app's workers (None: the broker is not genmon's)."""
    recorder: Recorder | None = None
    """``--record``: closed by the command once its last snapshot is taken (at exit otherwise)."""

    def close_recording(self) -> None:
        if self.recorder is not None:
            self.recorder.close()

    def with_finals(self) -> Snapshot:
        """The run's result once it is over and its broker gone: the workers' final reports (from
        their files) taken in, every shortfall judged now (nothing can move any more)."""
        now = time.monotonic()
        for report in self.finals:
            self.watcher.fleet.add(report, now)
        return self.watcher.sampler.snapshot_over()


SIGNALLED: list[int] = []
"""The signal that ended this session, if one did: the screen's event loop may swallow the
``SystemExit`` the handler raises, the exit status must still say it (128 + N, never 0)."""


def _exit_on_signal(signum: int, _frame: object) -> None:
    SIGNALLED.append(signum)
    raise SystemExit(128 + signum)


def obey_signal() -> None:
    """Raise the exit a signal asked for, if one came. The handler's own ``SystemExit`` is lost when
    Python ran the handler inside a finalizer (a ``__del__``, a weakref callback, a generator's
    close): an exception there is reported as unraisable and the code around it goes on. So every
    wait of the main thread asks between its slices (tests/unit/test_signals.py)."""
    if SIGNALLED:
        raise SystemExit(128 + SIGNALLED[0])


SIGNAL_SLICE_SECONDS = 0.25


def sleep_in_slices(seconds: float) -> None:
    """Sleep ``seconds`` in slices, so that a signal's handler runs within a slice: the kernel may
    hand a signal to any thread, and a main thread asleep in one long ``time.sleep`` is not woken
    when another thread took it — its handler waits for the sleep's end (tests/unit/test_signals.py).
    A signal whose exit was swallowed ends the sleep too (:func:`obey_signal`)."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        obey_signal()
        time.sleep(min(left, SIGNAL_SLICE_SECONDS))
    obey_signal()


def signalled() -> int | None:
    """The exit status a signal asks for (128 + N), or None."""
    return 128 + SIGNALLED[0] if SIGNALLED else None


@contextlib.contextmanager
def running(opts: Options) -> Iterator[Running]:
    """Start what ``opts`` asks for; yield once every worker's apps run (or failed alone); stop it all.

    The apps run in worker processes (:mod:`genmon.fleet.worker`); this process only watches them
    (:class:`~genmon.fleet.watcher.Watcher`). The ExitStack stops, in order: the watcher, the
    workers (bounded: killed after ``STOP_SECONDS``), the embedded broker, the scratch directory.
    """
    signing.from_env()  # an unreadable secret file: one line, before anything starts
    log_path = default_log_path()
    ring = route_logging(log_path, opts.loglevel)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit_on_signal)
    with contextlib.ExitStack() as stack:
        scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="genmon-run-"))
        hung: list[str] = []
        stack.callback(lambda: hung.extend(_hung_apps(scratch, opts.workers)))  # after the workers stop
        embedded = _embedded(stack, log_path) if opts.app_spec is None and not opts.broker_url else None
        if opts.app_spec is not None and opts.embedded:
            embedded = _embedded(stack, log_path)
        if opts.broker_url and not embedded:
            # a bad or unreachable broker, or one that refuses genmon's clients: one line, before any
            # worker starts (with -A and no -X, the app's credentials are known once it is loaded)
            if opts.security is None and opts.app_spec is not None:
                check_reachable(parse_broker_url(opts.broker_url))
            else:
                _external(opts.broker_url, opts.security)
        plan = _plan(opts, embedded, scratch)
        plan["control_since"] = since = time.time_ns()  # this session's switches only
        finals: list[Any] = []
        stack.callback(lambda: finals.extend(_finals(scratch, opts.workers)))  # after the workers stop
        workers = WorkerProcesses(plan, opts.workers, log_path).start()
        current = [workers]  # a recovery replaces them: whichever run last is stopped
        stack.callback(lambda: current[-1].stop())
        tail = LogTail(ring, workers.tailed()).start()
        stack.callback(tail.stop)
        if embedded:
            address = embedded.address
        elif opts.broker_url and (opts.security is not None or opts.app_spec is None):
            address = _external(opts.broker_url, opts.security)
        else:
            url, security = _broker_of(workers, scratch, opts.security)
            address = _external(opts.broker_url or url, security)
        assert address is not None
        pids = {str(proc.pid) for proc in workers.procs}
        host_name = socket.gethostname()
        watcher = Watcher(
            address,
            embedded=embedded is not None,
            broker_alive=embedded.is_up if embedded else None,
            broker_pid=embedded.pid if embedded else None,
            accept_key=lambda key: _ours(key, host_name, pids),
            settle_seconds=opts.settle,
            log_path=str(log_path),
            listening_rows=opts.app_spec is not None,
            control_since=since,
        )
        recorder = record_to(watcher, opts.record, ring) if opts.record else None
        stack.callback(watcher.stop)
        watcher.start()
        _export(stack, watcher, opts.prometheus)
        _wait_started(watcher, workers, scratch)
        if embedded is not None and opts.announce_broker and opts.app_spec is not None:
            say = f"genmon: the app runs on the embedded broker at {embedded.url}"
            print(say, file=sys.stderr, flush=True)
        _say_not_imported(scratch)
        descriptions = _descriptions(opts) if opts.app_spec is None else {}
        running_now = Running(watcher, ring, descriptions, workers, hung, finals, recorder=recorder)
        if embedded is not None:
            lock = threading.Lock()

            def recover() -> str:
                """The embedded broker died (or hangs): its records are gone with it. Stop the
                workers (their final reports, from files, keep every count exact), restart the
                broker on its port, read genmon's topics afresh, start the workers again."""
                assert embedded is not None
                with lock:
                    old = current[-1]
                    old.stop()
                    now = time.monotonic()
                    outage = watcher.health.info(embedded.url).outages
                    note = (
                        f"broker {outage[-1].state} {outage[-1].since}, restarted" if outage else "restarted"
                    )
                    for report in _finals(scratch, opts.workers):
                        watcher.fleet.add(lost_with_the_broker(report, note), now)
                    _forget_statuses(scratch, opts.workers)
                    embedded.restart()
                    watcher.health.restarted()
                    watcher.reconnect()
                    fresh = WorkerProcesses(plan, opts.workers, log_path).start()
                    pids.update(str(proc.pid) for proc in fresh.procs)
                    current.append(fresh)
                    running_now.workers = fresh
                    line = (
                        f"genmon: restarted the embedded broker at {embedded.url} (it came back empty: "
                        "topics and offsets start afresh) and the app's workers; counts so far are kept"
                    )
                    logging.getLogger("genmon").warning(line)
                    return line

            running_now.recover = recover
        yield running_now


def record_to(watcher: Watcher, path: str, ring: LogRing) -> Recorder:
    """Record what ``watcher`` reads, and the log panel's lines, to ``path``; closed at exit
    whatever way the run ends."""
    recorder = attach(watcher, path)
    ring.listener = recorder.log
    atexit.register(recorder.close)
    return recorder


def _ours(key: bytes, host_name: str, pids: set[str]) -> bool:
    """A report key (``host:pid:token``) of one of this run's workers."""
    parts = key.decode(errors="replace").rsplit(":", 2)
    return len(parts) == 3 and parts[0] == host_name and parts[1] in pids


def _plan(opts: Options, embedded: EmbeddedBroker | None, scratch: str) -> dict[str, Any]:
    broker = embedded.url if embedded else opts.broker_url
    plan: dict[str, Any] = {
        "broker": broker,
        "kafka_config": (
            write_properties(opts.security, os.path.join(scratch, "client.properties"))
            if opts.security is not None and not embedded
            else None
        ),
        "embedded": embedded is not None,
        "broker_settings": dict(FAST_JOIN) if embedded else {},
        "settle": opts.settle,
        "loglevel": opts.loglevel,
        "cwd": os.getcwd(),
        "status_path": os.path.join(scratch, "status"),
        "label": opts.app_spec or opts.app_id,
    }
    if opts.app_spec is not None:
        # genmon's own broker: the app's topics exist before its agents subscribe; a user's: on request
        plan.update(app_spec=opts.app_spec, create_topics=embedded is not None or opts.create_topics)
        plan["feeds"] = [_feed_plan(feed, scratch) for feed in opts.feeds]
    else:
        plan.update(scenarios=opts.scenarios, app_id=opts.app_id, rate=opts.rate, create_topics=True)
    return plan


def _feed_plan(feed: Any, scratch: str) -> dict[str, Any]:
    """A feed as its worker reads it: standard input, read once here, goes to a scratch file."""
    plan = feed.to_plan()
    if feed.path == "-":
        from genmon.model.feed import write_lines

        plan["path"] = write_lines(feed, os.path.join(scratch, "feed-stdin.jsonl"))
    return plan


def _status_path(scratch: str, number: int) -> str:
    """Where worker ``number`` says how its start went (its final report goes next to it)."""
    return os.path.join(scratch, f"status.w{number}")


def _status(scratch: str, number: int) -> dict[str, Any] | None:
    path = _status_path(scratch, number)
    with contextlib.suppress(OSError, ValueError), open(path, encoding="utf-8") as f:
        return dict(json.load(f))
    return None


def _broker_of(
    workers: WorkerProcesses, scratch: str, given: Security | None, timeout: float = START_SECONDS
) -> tuple[str, Security]:
    """The broker the user's app names (its ``broker=``), as the first worker read it, and how to
    connect to it: ``-X`` where given, else the app's own credentials (the worker wrote them, with
    the CA of the app's TLS context, to a file in the private scratch directory)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = _status(scratch, 1)
        if status is not None:
            if "error" in status:
                raise HostError(status["error"])
            return str(status["broker"]), given or _app_security(status)
        _raise_if_exited(workers, scratch)
        sleep_in_slices(0.05)
    raise HostError(f"the app did not load within {timeout:.0f}s")


def _finals(scratch: str, count: int) -> list[Any]:
    """The final reports the workers wrote (see :func:`genmon.fleet.worker.final_path`)."""
    from genmon.fleet.worker import final_path
    from genmon.model.wire import WireError, decode

    reports = []
    for number in range(1, count + 1):
        with (
            contextlib.suppress(OSError, WireError),
            open(final_path(_status_path(scratch, number)), "rb") as f,
        ):
            reports.append(decode(f.read()))
    return reports


def lost_with_the_broker(report: Any, note: str) -> Any:
    """A stopped worker's final report, with what the dead broker took marked as seen: its values
    sent and never acknowledged cannot arrive any more (the restarted broker is empty)."""
    from genmon.model import Cause

    sources = []
    for src in report.sources:
        unacked = src.sent - src.acked
        if not src.foreign and unacked:
            damaged = {**src.damaged, Cause.BROKER: FrozenBitMap(unacked)}
            src = replace(src, damaged=damaged, notes={**src.notes, Cause.BROKER: note})
        sources.append(src)
    return replace(report, sources=tuple(sources))


def _forget_statuses(scratch: str, count: int) -> None:
    """The status and final-report files of workers that were replaced (taken in already)."""
    from genmon.fleet.worker import final_path

    for number in range(1, count + 1):
        path = _status_path(scratch, number)
        for stale in (path, final_path(path)):
            with contextlib.suppress(OSError):
                os.unlink(stale)


def _hung_apps(scratch: str, count: int) -> list[str]:
    """The apps the workers abandoned because their stop hung (each worker's status file says)."""
    return [app for n in range(1, count + 1) for app in (_status(scratch, n) or {}).get("hung", [])]


def _raise_if_exited(workers: WorkerProcesses, scratch: str) -> None:
    for number, code in workers.exited():
        status = _status(scratch, number) or {}
        reason = status.get("error") or workers.last_line(number)
        said = f": {reason}" if reason else " without a word (does the app's module end the process?)"
        raise HostError(f"worker w{number} exited (status {code}) before its app started{said}")


def _wait_started(watcher: Watcher, workers: WorkerProcesses, scratch: str) -> None:
    """Until every worker's apps are past starting; a worker that failed alone is shown as crashed,
    but when nothing runs at all the reason is the one line genmon exits with."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        ready, errors = watcher.workers_ready()
        if ready >= workers.count:
            if errors and not _any_running(watcher):
                raise HostError(errors[0])
            return
        for number in range(1, workers.count + 1):
            status = _status(scratch, number)
            if status and "error" in status:
                raise HostError(status["error"])
        if len(workers.exited()) == workers.count:
            sleep_in_slices(0.5)  # its final report may still be on its way
            ready, errors = watcher.workers_ready()
            if errors:
                raise HostError(errors[0])
            _raise_if_exited(workers, scratch)
        sleep_in_slices(0.05)
    raise HostError(f"the Faust app did not start within {START_SECONDS:.0f}s")


def _say_not_imported(scratch: str) -> None:
    """One line on stderr per module the app's autodiscovery could not import (Faust only logs it,
    and runs without the agents and tasks the module declares)."""
    for line in (_status(scratch, 1) or {}).get("not_imported", []):
        module, _, error = str(line).partition(": ")
        print(
            f"genmon: autodiscovery could not import {module} ({error}): its agents and tasks do not run",
            file=sys.stderr,
        )


def _any_running(watcher: Watcher) -> bool:
    return any(app.state == AppState.RUNNING for app in watcher.read().apps)


def _descriptions(opts: Options) -> dict[str, str]:
    from genmon.demo import descriptions, select

    return {
        name: ("● " if name in opts.scenarios else "") + text
        for name, text in descriptions(select("all")).items()
    }


def _embedded(stack: contextlib.ExitStack, log_path: Any) -> EmbeddedBroker:
    broker = EmbeddedBroker(log_path=log_path.with_suffix(".broker.log"))
    stack.callback(broker.stop)
    broker.start()
    return broker


def _app_security(status: dict[str, Any]) -> Security:
    """The app's credentials as its worker handed them over (plaintext when it names none)."""
    if status.get("kafka_unportable"):
        raise HostError(str(status["kafka_unportable"]))
    path = status.get("kafka_config")
    if not path:
        return PLAINTEXT
    return from_properties(read_properties(str(path)), "the app's broker_credentials")


def _external(url: str, security: Security | None = None) -> BrokerAddress:
    address = parse_broker_url(url).secured(security)
    check_reachable(address)
    check_connects(address)
    return address


@dataclass
class WatchOptions:
    broker_url: str
    app_id: str | None = None
    settle: float = 5.0
    loglevel: int = logging.INFO
    history: float = WATCH_HISTORY_SECONDS
    prometheus: tuple[str, int] | None = None
    record: str | None = None
    security: Security | None = None


@contextlib.contextmanager
def watching(opts: WatchOptions) -> Iterator[Running]:
    """Watch the workers that report to a broker (of one app, or all), started by anyone."""
    signing.from_env()  # an unreadable secret file: one line, before anything starts
    log_path = default_log_path()
    ring = route_logging(log_path, opts.loglevel)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit_on_signal)
    address = _external(opts.broker_url, opts.security)
    since = time.time() - opts.history

    def accept(report: Any) -> bool:
        wanted = opts.app_id is None or any(app.app_id == opts.app_id for app in report.apps)
        return wanted and report.at >= since

    watcher = Watcher(
        address,
        accept=accept,
        settle_seconds=opts.settle,
        log_path=str(log_path),
        listening_rows=True,
    )
    recorder = record_to(watcher, opts.record, ring) if opts.record else None
    with contextlib.ExitStack() as stack:
        stack.callback(watcher.stop)
        watcher.start()
        # Until the reports already on the topic are merged the fleet is the past's: a worker that
        # ran an hour ago looks silent, and nothing may be shown or judged from that.
        watcher.catch_up(lambda line: print(line, file=sys.stderr, flush=True))
        _export(stack, watcher, opts.prometheus)
        yield Running(watcher, ring, {}, recorder=recorder)


def _export(stack: contextlib.ExitStack, watcher: Watcher, where: tuple[str, int] | None) -> None:
    """Serve the watcher's snapshots as Prometheus metrics (stopped before the watcher is)."""
    if where is None:
        return
    from genmon.watch.metrics import export

    exporter = export(watcher.snapshot, *where)
    stack.callback(exporter.stop)


def settle_and_read(host: Watcher, duration: float, settle: float) -> Snapshot:
    """Let the generators run ``duration`` seconds, switch them off, wait while the pipelines drain
    (at most :func:`drain_limit` of ``settle``), read: rows still draining then are named."""
    sleep_in_slices(duration)
    host.set_all(False)
    drained = wait_settled(host, drain_limit(settle), between=obey_signal)
    host.offsets.refresh()  # broker truth as of now, not of the last 2 s poll
    host.sampler.stop()  # the judged snapshot is the run's last reading (and its recording's)
    return replace(host.snapshot(fresh=True), draining=drained.draining)
