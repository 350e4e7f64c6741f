"""``genmon`` itself: the demo, or ``-A`` your app, on the screen or ``--headless``.

Every mistake a user can make on the command line ends in one line on stderr and exit status 2;
every way out (q, Ctrl+C, SIGTERM, an exception) stops Faust and the embedded broker and removes the
scratch directories (docs/ARCHITECTURE.md, "Rules"). The running itself is in ``genmon.session``.
"""

from __future__ import annotations

import sys

import click

from genmon.cli import outcome
from genmon.cli.base import CONTEXT_SETTINGS, broker_choice, check_terminal, given, level, listen, security
from genmon.cli.options import (
    UsageProblem,
    app_option,
    broker_option,
    create_topics_option,
    embedded_option,
    feed_options,
    json_option,
    kafka_options,
    keep_log_option,
    loglevel_option,
    prometheus_option,
    rate_type,
    read_feeds,
    record_option,
    seconds,
    settle_option,
    workers_option,
    writable,
)
from genmon.cli.outcome import Exit
from genmon.model import Snapshot
from genmon.session import Options, running, settle_and_read, signalled
from genmon.version import __version__

HEADLESS_SECONDS = 10.0
"""How long ``--headless`` lets the generators run when ``--duration`` is not given."""


@click.group(
    invoke_without_command=True,
    context_settings=CONTEXT_SETTINGS,
    epilog=outcome.statuses_help(Exit.OK, Exit.BAD_INPUT, Exit.DRAINING, Exit.HUNG, Exit.BROKER_FAULT),
)
@app_option
@broker_option
@kafka_options
@embedded_option
@create_topics_option
@feed_options
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
    help="With --headless: seconds the generators run before they are paused.  "
    f"[default: {HEADLESS_SECONDS:g}]",
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
@record_option
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
    kafka_properties: tuple[str, ...],
    kafka_config: str | None,
    embedded: bool,
    create_topics: bool,
    feed_specs: tuple[str, ...],
    feed_rate: float | None,
    feed_key_separator: str | None,
    rate: float,
    settle: float,
    headless: bool,
    duration: float | None,
    json_output: bool,
    scenarios: str | None,
    app_id: str,
    workers: int,
    prometheus: tuple[str, int] | None,
    record_path: str | None,
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
            if given(ctx, name):
                raise UsageProblem(f"--{name.replace('_', '-')} is for the demo; it does not go with -A")
    elif embedded:
        raise UsageProblem("--embedded goes with -A (the demo runs on the embedded broker anyway)")
    elif feed_specs:
        raise UsageProblem("--feed goes with -A (the demo's generators feed it)")
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
    secured = security(kafka_properties, kafka_config, embedded)
    broker = broker_choice(broker, embedded, secured, app=app_spec is not None)
    listen(prometheus)
    writable("--record", record_path)
    if not headless:
        check_terminal()
        if any(spec.rstrip().endswith("=-") for spec in feed_specs):
            raise UsageProblem(
                "--feed TOPIC=- reads standard input: it goes with --headless (the screen reads keys)"
            )
    feeds = read_feeds(feed_specs, feed_rate, feed_key_separator)
    opts = Options(
        broker,
        embedded,
        app_spec,
        rate,
        settle,
        chosen,
        app_id,
        level(loglevel),
        create_topics,
        workers,
        prometheus,
        record=record_path,
        security=secured,
        feeds=feeds,
        announce_broker=headless,
    )
    snapshot: Snapshot | None = None
    seen: Snapshot | None = None
    screen_status = 0
    with running(opts) as run:
        if headless:
            snapshot = settle_and_read(run.watcher, duration or HEADLESS_SECONDS, settle)
        else:
            from genmon.tui import GenmonApp

            screen = GenmonApp(
                run.watcher, descriptions=run.descriptions, log_ring=run.ring, recover=run.recover
            )
            screen.run()
            screen_status = screen.return_code or 0  # 128 + N when a signal ended the screen
            seen = screen.snapshot
            outcome.trouble_on_screen(seen)
    if snapshot is not None:
        from genmon.cli.report import print_report

        snapshot = outcome.final_snapshot(run, snapshot)
        print_report(snapshot, json_output)
    run.close_recording()
    hung = outcome.hung(run)
    faulted = outcome.broker_fault(run, snapshot or seen)
    drained = Exit.DRAINING if snapshot is not None and snapshot.draining else 0
    sys.exit(signalled() or screen_status or faulted or drained or (Exit.HUNG if hung else 0))
