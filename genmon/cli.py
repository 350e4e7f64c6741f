"""The ``genmon`` command.

Every mistake a user can make on the command line ends in one line on stderr and exit status 2;
every way out (q, Ctrl+C, SIGTERM, an exception) stops Faust and the embedded broker and removes the
scratch directories (docs/ARCHITECTURE.md, "Rules"). The running itself is in ``genmon.session``.
"""

from __future__ import annotations

import logging
import shutil
import sys
from dataclasses import replace
from typing import Any

import click

from genmon.broker import BrokerError, check_reachable, parse_broker_url
from genmon.host import HostError
from genmon.host.loader import AppLoadError
from genmon.listen import ListenError, check_port
from genmon.model import DEFAULT_FAIL_ON, PROBLEMS, Cause, RowKind, Snapshot, parse_fail_on, plural, problems
from genmon.options import (
    UsageProblem,
    app_option,
    broker_option,
    create_topics_option,
    embedded_option,
    fleet_app_option,
    fleet_broker_option,
    json_option,
    keep_log_option,
    loglevel_option,
    prometheus_option,
    rate_type,
    seconds,
    settle_option,
    workers_option,
)
from genmon.serve import DEFAULT_PORT as SERVE_PORT
from genmon.session import Options, Running, WatchOptions, running, settle_and_read, signalled, watching
from genmon.version import __version__

EMPTY = 3
"""``genmon check``'s exit status when it saw no pipeline at all: nothing was checked."""
DRAINING = 4
"""``genmon check``/``--headless``: no loss found, but rows were still draining when the wait for
them ran out (30 s + 6 x --settle): their values are neither delivered nor lost yet."""
HUNG = 5
"""The app's stop hung past the bound and its worker was killed (the result is still printed)."""
BROKER_FAULT = 6
"""The broker was down or not answering at the end of the run, or values were lost with it: the
result is printed (from the workers' final reports), the losses are put on the broker, not the app."""


def _given(ctx: click.Context, name: str) -> bool:
    return ctx.get_parameter_source(name) not in (None, click.core.ParameterSource.DEFAULT)


def _broker_choice(broker: str | None, embedded: bool) -> None:
    if broker is not None and embedded:
        raise UsageProblem("--broker and --embedded exclude each other")
    if broker is not None:  # a malformed or unreachable broker fails here, before anything starts
        check_reachable(parse_broker_url(broker))


@click.group(
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@app_option
@broker_option
@embedded_option
@create_topics_option
@click.option(
    "--rate",
    type=rate_type,
    default=10.0,
    show_default=True,
    metavar="N",
    help="Demo: values per second per generator.",
)
@settle_option
@click.option("--headless", is_flag=True, help="No screen: run, pause, settle, print the result.")
@click.option(
    "--duration",
    type=seconds,
    default=None,
    metavar="SECONDS",
    help="With --headless: seconds the generators run before they are paused.  [default: 10]",
)
@json_option
@click.option(
    "--scenarios",
    metavar="NAMES",
    default=None,
    help="Demo pipelines: 'all', or a comma list (see ? on the screen).  "
    "[default: unwired,sync-pump,async-pump]",
)
@click.option("--app-id", default="genmon-demo", show_default=True, help="Demo: the Faust app id.")
@workers_option
@prometheus_option
@loglevel_option
@keep_log_option
@click.option(
    "-V",
    "--version",
    "show_version",
    is_flag=True,
    is_eager=True,
    help="Show the version and exit.",
)
@click.pass_context
def cli(
    ctx: click.Context,
    app_spec: str | None,
    broker: str | None,
    embedded: bool,
    create_topics: bool,
    rate: float,
    settle: float,
    headless: bool,
    duration: float | None,
    json_output: bool,
    scenarios: str | None,
    app_id: str,
    workers: int,
    prometheus: tuple[str, int] | None,
    loglevel: str,
    show_version: bool,
) -> None:
    """genmon: where did my values go?

    Without -A, runs a demo Faust app (the "agent never receives the generator's values" bug and
    its fixes) on an embedded Kafka-compatible broker. With -A, monitors your own app. Either way
    it shows, per pipeline, how many values were yielded, sent, acked, received and processed.

    `genmon check -A MODULE` is the headless gate for CI; `genmon watch` watches a fleet of workers
    that report to a broker, `genmon serve` shows that in a browser; `genmon worker -A MODULE` runs
    `faust worker` with genmon attached; `genmon kafka` runs a real Apache Kafka on this machine
    (each: --help).
    """
    if show_version:  # not click's version_option: that one exits 0 whatever else was typed
        if ctx.invoked_subcommand is not None:
            raise UsageProblem(f"--version takes no command (got {ctx.invoked_subcommand!r})")
        click.echo(f"genmon, version {__version__}")
        return
    if ctx.invoked_subcommand is not None:
        return
    from genmon.demo import UnknownScenario, select

    if app_spec is not None:
        for name in ("rate", "scenarios", "app_id"):
            if _given(ctx, name):
                raise UsageProblem(f"--{name.replace('_', '-')} is for the demo; it does not go with -A")
    elif embedded:
        raise UsageProblem("--embedded goes with -A (the demo runs on the embedded broker anyway)")
    elif create_topics:
        raise UsageProblem("--create-topics goes with -A (the demo always creates its own topics)")
    try:
        chosen = select(scenarios)
    except UnknownScenario as exc:
        raise UsageProblem(str(exc)) from None
    if json_output and not headless:
        raise UsageProblem("--json goes with --headless")
    if duration is not None and not headless:
        raise UsageProblem("--duration goes with --headless")
    _broker_choice(broker, embedded)
    _listen(prometheus)
    if not headless:
        _check_terminal()
    opts = Options(
        broker,
        embedded,
        app_spec,
        rate,
        settle,
        chosen,
        app_id,
        _level(loglevel),
        create_topics,
        workers,
        prometheus,
    )
    snapshot, screen_status, seen = None, 0, None
    with running(opts) as run:
        if headless:
            snapshot = settle_and_read(run.host, duration or 10.0, settle)
        else:
            from genmon.tui import GenmonApp

            screen = GenmonApp(
                run.host, descriptions=run.descriptions, log_ring=run.ring, recover=run.recover
            )
            screen.run()
            screen_status = screen.return_code or 0  # 128 + N when a signal ended the screen
            seen = screen.snapshot
            _trouble_on_screen(seen)
    if snapshot is not None:
        from genmon.report import print_report

        snapshot = _final_snapshot(run, snapshot)
        print_report(snapshot, json_output)
    hung = _hung(run)
    faulted = _broker_fault(run, snapshot or seen)
    drained = DRAINING if snapshot is not None and snapshot.draining else 0
    sys.exit(signalled() or screen_status or faulted or drained or (HUNG if hung else 0))


def _final_snapshot(run: Running, snapshot: Snapshot) -> Snapshot:
    """The result to print: as read before the apps stopped, or — when the broker was not answering
    at the end, so the workers' last reports could not travel — with their final reports, which they
    also write to files, taken in (exact counts of what was sent and never acknowledged)."""
    if run.finals and not run.host.broker_up():
        return replace(run.with_finals(), draining=())
    return snapshot


def _broker_fault(run: Running, snapshot: Snapshot | None) -> int:
    """Say in one line (stderr) when the broker failed during the run; the exit status for it."""
    broker = snapshot.broker if snapshot is not None else run.host.snapshot().broker
    blamed = snapshot is not None and any(p.verdict.cause == Cause.BROKER for p in snapshot.pipelines)
    if not broker.outages:
        return 0
    spells = "; ".join(f"{o.state} {o.window()}" for o in broker.outages[-3:])
    if broker.up and not blamed:
        click.echo(f"genmon: the broker did not answer for a while ({spells}); nothing was lost", err=True)
        return 0
    lost = (
        sum(p.verdict.lost for p in snapshot.pipelines if p.verdict.cause == Cause.BROKER) if snapshot else 0
    )
    said = (
        f": {plural(lost, 'value')} lost with it"
        if lost
        else ": the result is what genmon knew before it failed"
    )
    click.echo(f"genmon: the broker failed during the run ({spells}){said}", err=True)
    return BROKER_FAULT


def _trouble_on_screen(snapshot: Any) -> None:
    """The screen was quit (status 0) while the app had crashed or the broker was down: the log is
    what the user reads next, so it is kept and its path printed."""
    from genmon.host.logs import RunLogs

    if snapshot is not None and (snapshot.app_state == "crashed" or not snapshot.broker.up):
        RunLogs.trouble = True


def _hung(run: Running) -> bool:
    """Say in one line (stderr) when an app's stop hung: its worker abandoned it after its bound, or
    genmon killed the worker after its own."""
    from genmon.fleet.worker import APP_STOP_SECONDS
    from genmon.fleet.workers import STOP_SECONDS

    killed = run.workers.killed if run.workers is not None else []
    if run.hung:
        outages = run.host.health.info(run.host.broker.url).outages
        why = (
            "Faust's stop waits for the broker to take the producer's last sends; the broker does not answer"
            if not run.host.broker_up()
            else f"Faust's stop hung after the broker's outage at {outages[-1].since}: it waits on the broker"
            if outages
            else "Faust's stop hung: an agent or task that never lets go"
        )
        click.echo(
            f"genmon: {', '.join(dict.fromkeys(run.hung))} did not stop within {APP_STOP_SECONDS:.0f}s "
            f"({why}); abandoned",
            err=True,
        )
    if killed:
        names = ", ".join(f"w{n}" for n in killed)
        click.echo(f"genmon: worker {names} did not exit within {STOP_SECONDS:.0f}s; killed", err=True)
    return bool(run.hung or killed)


@cli.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@app_option
@broker_option
@embedded_option
@create_topics_option
@click.option(
    "--duration",
    type=seconds,
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="Seconds the app runs before its tracked generators are paused.",
)
@settle_option
@json_option
@click.option(
    "--allow-empty",
    is_flag=True,
    help="Pass even when no pipeline was seen (nothing sent to a topic during the run).",
)
@click.option(
    "--fail-on",
    default=",".join(DEFAULT_FAIL_ON),
    show_default=True,
    metavar="KINDS",
    help=f"Problems that fail the check: a comma list of {', '.join(PROBLEMS)}.",
)
@click.option(
    "--sink",
    "sinks",
    multiple=True,
    metavar="TOPIC",
    help="A topic the app writes for others to read (repeatable): never a problem, even with "
    "--fail-on unread.",
)
@workers_option
@loglevel_option
@keep_log_option
def check(
    app_spec: str | None,
    broker: str | None,
    embedded: bool,
    create_topics: bool,
    duration: float,
    settle: float,
    json_output: bool,
    allow_empty: bool,
    fail_on: str,
    sinks: tuple[str, ...],
    workers: int,
    loglevel: str,
) -> None:
    """Run your app headless, pause its tracked generators, let it settle, and judge it.

    Exit status: 0 no problem, 1 a problem of a --fail-on kind was found, 2 bad input, 3 nothing was
    checked (no pipeline seen; --allow-empty passes instead), 4 no problem but rows were still
    draining when the wait for them ran out, 5 no problem but the app's stop hung (abandoned).
    """
    if app_spec is None:
        raise UsageProblem("genmon check needs -A MODULE[:APP]")
    try:
        kinds = parse_fail_on(fail_on)
    except ValueError as exc:
        raise UsageProblem(f"--fail-on: {exc}") from None
    _broker_choice(broker, embedded)
    opts = Options(
        broker,
        embedded,
        app_spec,
        settle=settle,
        loglevel=_level(loglevel),
        create_topics=create_topics,
        workers=workers,
    )
    with running(opts) as run:
        snapshot = settle_and_read(run.host, duration, settle)
    from genmon.report import print_report

    snapshot = _final_snapshot(run, snapshot)
    found = problems(snapshot, kinds, declared_sinks=sinks)
    print_report(snapshot, json_output)
    if not json_output:
        click.echo(
            f"genmon check: {plural(len(found), 'problem')}" + "".join(f"\n  - {line}" for line in found)
        )
    if not found and not allow_empty and not any(p.kind != RowKind.TOPIC for p in snapshot.pipelines):
        click.echo(
            "genmon check: no pipeline seen: nothing sent to a topic during the run. Mark a generator with "
            "@genmon.track, or check that the app's tasks and timers send; --allow-empty passes anyway.",
            err=True,
        )
        sys.exit(EMPTY)
    hung = _hung(run)
    faulted = _broker_fault(run, snapshot)
    sys.exit(faulted or (1 if found else DRAINING if snapshot.draining else HUNG if hung else 0))


@cli.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@fleet_broker_option
@fleet_app_option
@settle_option
@click.option("--headless", is_flag=True, help="No screen: watch --duration seconds, print the result.")
@click.option(
    "--duration", type=seconds, default=10.0, show_default=True, metavar="SECONDS", help="With --headless."
)
@click.option(
    "--pause",
    is_flag=True,
    help="With --headless: then switch the fleet's tracked generators off and judge it settled, like check.",
)
@json_option
@prometheus_option
@loglevel_option
@keep_log_option
def watch(
    broker: str | None,
    app_id: str | None,
    settle: float,
    headless: bool,
    duration: float,
    pause: bool,
    json_output: bool,
    prometheus: tuple[str, int] | None,
    loglevel: str,
) -> None:
    """Watch a fleet: every worker that reports to the broker (faust workers started with
    GENMON_BROKER set, or with genmon worker), merged into one screen.

    A value sent in one worker and processed in another is one value. Keys switch generators in
    every worker (and in workers that start later).
    """
    _fleet_broker("watch", broker)
    if json_output and not headless:
        raise UsageProblem("--json goes with --headless")
    if pause and not headless:
        raise UsageProblem("--pause goes with --headless")
    _listen(prometheus)
    if not headless:
        _check_terminal(allow_served=True)
    opts = WatchOptions(broker, app_id, settle, _level(loglevel), prometheus=prometheus)
    status = 0
    with watching(opts) as run:
        if headless:
            from genmon.report import print_report

            if pause:
                snapshot = settle_and_read(run.host, duration, settle)
            else:
                import time

                time.sleep(duration)
                snapshot = run.host.snapshot()
            print_report(snapshot, json_output)
        else:
            from genmon.tui import GenmonApp

            screen = GenmonApp(run.host, descriptions={}, log_ring=run.ring)
            screen.run()
            status = screen.return_code or 0  # 128 + N when a signal ended the screen
    sys.exit(signalled() or status)


def _listen(prometheus: tuple[str, int] | None) -> None:
    """A --prometheus address that cannot be listened on fails before anything starts."""
    if prometheus is not None:
        check_port(*prometheus, "--prometheus")


def _fleet_broker(command: str, broker: str | None) -> None:
    if not broker or broker == "app":
        raise UsageProblem(f"genmon {command} needs --broker URL (or GENMON_BROKER set to a URL)")
    check_reachable(parse_broker_url(broker))


@cli.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@fleet_broker_option
@fleet_app_option
@settle_option
@click.option(
    "--host",
    metavar="ADDRESS",
    default="127.0.0.1",
    show_default=True,
    help="The address to listen on. There is no authentication: anything but this machine is warned of.",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=SERVE_PORT,
    show_default=True,
    metavar="PORT",
    help="The port to listen on.",
)
@click.option(
    "--public-url",
    metavar="URL",
    default=None,
    help="The address browsers reach this server at (behind a proxy or a tunnel).  "
    "[default: http://HOST:PORT; with --host 0.0.0.0, this machine's name]",
)
@loglevel_option
@keep_log_option
def serve(
    broker: str | None,
    app_id: str | None,
    settle: float,
    host: str,
    port: int,
    public_url: str | None,
    loglevel: str,
) -> None:
    """Serve the watcher's screen in a browser: every tab watches the workers that report to the
    broker (as `genmon watch` does) and its keys switch their generators.

    A tab never starts an app or a broker: run your workers (or `genmon --broker URL`) beside it.
    Ctrl+C stops the server and every tab's screen.
    """
    from genmon.host.logs import default_log_path, route_logging
    from genmon.listen import loopback
    from genmon.serve import serve as serve_screen

    if public_url is not None and not public_url.startswith(("http://", "https://")):
        raise UsageProblem(f"--public-url {public_url!r}: give an http:// or https:// URL")
    _fleet_broker("serve", broker)
    assert broker is not None
    args = ["--broker", broker, "--settle", f"{settle:g}", "--loglevel", loglevel]
    if app_id is not None:
        args += ["--app-id", app_id]
    if not loopback(host):
        click.echo(
            f"genmon: warning: serving on {host} with no authentication: anyone who reaches port {port} "
            "sees the screen and can switch your generators (an SSH tunnel to 127.0.0.1 is safer)",
            err=True,
        )
    route_logging(default_log_path(), _level(loglevel))
    serve_screen(args, host, port, title=f"genmon watch {app_id or broker}", public=public_url)
    click.echo("genmon: stopped serving", err=True)
    sys.exit(signalled() or 0)


@cli.command(
    context_settings={
        "help_option_names": ["-h", "--help"],
        "max_content_width": 100,
        "ignore_unknown_options": True,
        "allow_extra_args": True,
    }
)
@click.option("-A", "--app", "app_spec", metavar="MODULE[:APP]", required=True, help="Your Faust app.")
@click.option(
    "--report-to",
    metavar="URL",
    default="app",
    show_default=True,
    help="The broker genmon reports to: a URL, or 'app' for the app's own broker.",
)
@click.argument("faust_args", nargs=-1, type=click.UNPROCESSED)
def worker(app_spec: str, report_to: str, faust_args: tuple[str, ...]) -> None:
    """Run `faust -A MODULE worker [FAUST_ARGS]` with genmon attached (GENMON_BROKER set).

    The same as setting GENMON_BROKER=app (or a URL) in the environment of any faust worker, e.g. a
    Kubernetes Deployment: see `genmon watch` to watch them.
    """
    import os

    if report_to != "app":
        parse_broker_url(report_to)  # malformed: one line, exit 2
    env = {**os.environ, "GENMON_BROKER": report_to}
    command = [sys.executable, "-m", "faust", "-A", app_spec, "worker", *faust_args]
    os.execvpe(sys.executable, command, env)


@cli.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--port", type=click.IntRange(1, 65535), default=None, help="Listen on this port.  [default: a free one]"
)
def kafka(port: int | None) -> None:
    """Run a real Apache Kafka 4 on 127.0.0.1 until Ctrl+C: single node, KRaft, data deleted at stop.

    Needs Java 17+ and Maven (the broker's jars come from Maven Central, once, then from a cache).
    Point genmon (or your app) at the URL it prints.
    """
    import signal
    import time

    from genmon.broker import KafkaBroker
    from genmon.broker.kafka import jars_cached, kafka_version

    if not jars_cached():
        click.echo(f"genmon: fetching Apache Kafka {kafka_version()} from Maven Central (once)…", err=True)
    stop: list[int] = []  # a signal handler must not take a lock (Event.set can deadlock the wait)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda number, _: stop.append(number))
    with KafkaBroker(port=port) as broker:
        click.echo(f"Apache Kafka {broker.version} at {broker.url} (single node; Ctrl+C stops it)")
        click.echo(f"  try: genmon --broker {broker.url}")
        while not stop:
            time.sleep(0.5)  # the sleep resumes after a signal's handler (PEP 475): stops within 0.5 s
            if not stop and not broker.is_up():
                raise BrokerError(f"the local Kafka at {broker.url} exited")
    click.echo("genmon: Kafka stopped; its data is deleted", err=True)


def _level(name: str) -> int:
    return getattr(logging, name.upper())


def _check_terminal(allow_served: bool = False) -> None:
    """Textual draws on stderr and reads stdin: both must be the terminal — except for the watcher's
    screen that ``genmon serve`` starts for a browser tab (pipes to the server, sized by the tab)."""
    from genmon.tui.served import served

    if allow_served and served():
        return
    if not (sys.stderr.isatty() and sys.stdin.isatty()):
        raise UsageProblem("the screen needs a terminal; use --headless (with --json) in scripts")
    from genmon.tui.too_small import MIN_COLUMNS, MIN_LINES, too_small  # the screen's own limit

    size = shutil.get_terminal_size((0, 0))
    if too_small(size.columns, size.lines):
        raise UsageProblem(
            f"terminal too small ({size.columns}x{size.lines}); "
            f"genmon needs at least {MIN_COLUMNS}x{MIN_LINES}"
        )


def main(argv: list[str] | None = None) -> None:
    """Entry point: every expected failure is one line on stderr and exit status 2; at exit the run's
    log folder is removed, or kept (its path printed) when asked or when the run went wrong."""
    from genmon.host.logs import RunLogs, finish_logs

    try:
        status = _status_of(argv)
    except BaseException:  # a defect of genmon's own: its traceback, and the logs to go with it
        RunLogs.trouble = True
        kept = finish_logs(1)
        if kept is not None:
            print(f"genmon: log kept: {kept}", file=sys.stderr)
        raise
    kept = finish_logs(status)
    if kept is not None:
        print(f"genmon: log kept: {kept}", file=sys.stderr)
    sys.exit(status)


def _status_of(argv: list[str] | None) -> int:
    try:
        code = cli.main(args=argv, prog_name="genmon", standalone_mode=False)
    except SystemExit as exc:
        code = exc.code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        return _fail(exc.format_message())
    except (BrokerError, HostError, AppLoadError, ListenError) as exc:
        return _fail(str(exc))
    except (KeyboardInterrupt, click.exceptions.Abort):
        return 130
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # sys.exit("message"): said, and a failure
    return 1


def _fail(message: str) -> int:
    line = " ".join(message.split())
    print(f"genmon: error: {line}", file=sys.stderr)
    return 2
