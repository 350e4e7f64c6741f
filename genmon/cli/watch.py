"""``genmon watch`` and ``genmon serve``: a fleet of workers that report to a broker, on the screen,
headless, or in a browser (each tab a ``genmon watch`` of its own)."""

from __future__ import annotations

import contextlib
import os
import sys

import click

from genmon.broker.security import Security
from genmon.cli import outcome
from genmon.cli.base import (
    CONTEXT_SETTINGS,
    check_terminal,
    fleet_broker,
    level,
    listen,
    security,
    whole_process,
)
from genmon.cli.options import (
    UsageProblem,
    fleet_app_option,
    fleet_broker_option,
    json_option,
    kafka_options,
    keep_log_option,
    loglevel_option,
    prometheus_option,
    record_option,
    seconds,
    settle_option,
    writable,
)
from genmon.cli.outcome import Exit
from genmon.serve import DEFAULT_PORT as SERVE_PORT
from genmon.session import WatchOptions, settle_and_read, signalled, sleep_in_slices, watching
from genmon.watch.heap import on_system_allocator


@click.command(
    context_settings=CONTEXT_SETTINGS, epilog=outcome.statuses_help(Exit.OK, Exit.BAD_INPUT, Exit.EMPTY)
)
@fleet_broker_option
@kafka_options
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
@record_option
@loglevel_option
@keep_log_option
def watch(
    broker: str | None,
    kafka_properties: tuple[str, ...],
    kafka_config: str | None,
    app_id: str | None,
    settle: float,
    headless: bool,
    duration: float,
    pause: bool,
    json_output: bool,
    prometheus: tuple[str, int] | None,
    record_path: str | None,
    loglevel: str,
) -> None:
    """Watch a fleet: every worker that reports to the broker (faust workers started with
    GENMON_BROKER set, or with genmon worker), merged into one screen.

    A value sent in one worker and processed in another is one value. Keys switch generators in
    every worker (and in workers that start later).
    """
    on_system_allocator(whole_process())  # a watcher lives long (docs/ARCHITECTURE.md, "Memory")
    secured = security(kafka_properties, kafka_config)
    url = fleet_broker("watch", broker, secured)
    if json_output and not headless:
        raise UsageProblem("--json goes with --headless")
    if pause and not headless:
        raise UsageProblem("--pause goes with --headless")
    listen(prometheus)
    writable("--record", record_path)
    if not headless:
        check_terminal(allow_served=True)
    opts = WatchOptions(
        url, app_id, settle, level(loglevel), prometheus=prometheus, record=record_path, security=secured
    )
    status = 0
    with watching(opts) as run:
        if headless:
            from genmon.cli.report import print_report

            if pause:
                snapshot = settle_and_read(run.watcher, duration, settle)
            else:
                sleep_in_slices(duration)
                # the printed snapshot is the run's last reading, and its recording's
                run.watcher.sampler.stop()
                snapshot = run.watcher.snapshot(fresh=True)
            print_report(snapshot, json_output)
            if snapshot.switches_refused:
                click.echo(f"genmon watch: {snapshot.switches_refused}", err=True)
            if nothing := outcome.nothing_watched(snapshot):
                click.echo(f"genmon watch: {nothing}", err=True)
                status = Exit.EMPTY
        else:
            from genmon.tui import GenmonApp

            screen = GenmonApp(run.watcher, descriptions={}, log_ring=run.ring)
            screen.run()
            status = screen.return_code or 0  # 128 + N when a signal ended the screen
    run.close_recording()
    sys.exit(signalled() or status)


@click.command(context_settings=CONTEXT_SETTINGS)
@fleet_broker_option
@kafka_options
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
    kafka_properties: tuple[str, ...],
    kafka_config: str | None,
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
    if public_url is not None and not public_url.startswith(("http://", "https://")):
        raise UsageProblem(f"--public-url {public_url!r}: give an http:// or https:// URL")
    secured = security(kafka_properties, kafka_config)
    url = fleet_broker("serve", broker, secured)
    args = ["--broker", url, "--settle", f"{settle:g}", "--loglevel", loglevel]
    with contextlib.ExitStack() as stack:
        if secured is not None:  # each tab's watcher reads them from a file only this user can read
            args += ["--kafka-config", private_properties(stack, secured)]
        _serve(args, url, app_id, host, port, public_url, loglevel)
    sys.exit(signalled() or 0)


def private_properties(stack: contextlib.ExitStack, secured: Security) -> str:
    """``secured`` as a properties file in a private temporary folder, removed when ``stack`` closes:
    never on a child's command line, where every user of the machine could read a password."""
    import tempfile

    from genmon.broker.security import write_properties

    folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="genmon-serve-"))
    return write_properties(secured, os.path.join(folder, "client.properties"))


def _serve(
    args: list[str], url: str, app_id: str | None, host: str, port: int, public_url: str | None, loglevel: str
) -> None:
    from genmon.listen import loopback
    from genmon.serve import serve as serve_screen
    from genmon.watch.logs import default_log_path, route_logging

    if app_id is not None:
        args += ["--app-id", app_id]
    if not loopback(host):
        click.echo(
            f"genmon: warning: serving on {host} with no authentication: anyone who reaches port {port} "
            "sees the screen and can switch your generators (an SSH tunnel to 127.0.0.1 is safer)",
            err=True,
        )
    route_logging(default_log_path(), level(loglevel))
    serve_screen(args, host, port, title=f"genmon watch {app_id or url}", public=public_url)
    click.echo("genmon: stopped serving", err=True)
