"""``genmon check``: the gate for CI — run the app headless, pause, settle, judge, exit with a status."""

from __future__ import annotations

import os
import sys

import click

from genmon.cli import outcome
from genmon.cli.base import CONTEXT_SETTINGS, broker_choice, level, security
from genmon.cli.options import (
    UsageProblem,
    app_option,
    broker_option,
    create_topics_option,
    embedded_option,
    fail_on_option,
    feed_options,
    json_option,
    junit_option,
    kafka_options,
    keep_log_option,
    loglevel_option,
    read_feeds,
    record_option,
    seconds,
    settle_option,
    summary_option,
    workers_option,
    writable,
)
from genmon.cli.outcome import Exit
from genmon.model import PipelineSnapshot, RowKind, parse_fail_on, plural, problems
from genmon.session import Options, running, settle_and_read


def _seen(pipe: PipelineSnapshot) -> bool:
    """A row that says something: a source's, or a topic's that other producers' records reached."""
    return pipe.kind != RowKind.TOPIC or bool(pipe.counts.received) or pipe.verdict.in_flight > 0


@click.command(context_settings=CONTEXT_SETTINGS, epilog=outcome.statuses_help(*Exit))
@app_option
@broker_option
@kafka_options
@embedded_option
@create_topics_option
@feed_options
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
@fail_on_option("Problems that fail the check")
@click.option(
    "--sink",
    "sinks",
    multiple=True,
    metavar="TOPIC",
    help="A topic the app writes for others to read (repeatable): never a problem, even with "
    "--fail-on unread.",
)
@junit_option
@summary_option
@record_option
@workers_option
@loglevel_option
@keep_log_option
def check(
    app_spec: str | None,
    broker: str | None,
    kafka_properties: tuple[str, ...],
    kafka_config: str | None,
    embedded: bool,
    create_topics: bool,
    feed_specs: tuple[str, ...],
    feed_rate: float | None,
    feed_key_separator: str | None,
    duration: float,
    settle: float,
    json_output: bool,
    allow_empty: bool,
    fail_on: str,
    sinks: tuple[str, ...],
    junit_path: str | None,
    summary_path: str | None,
    record_path: str | None,
    workers: int,
    loglevel: str,
) -> None:
    """Run your app headless, pause its tracked generators, let it settle, and judge it."""
    if app_spec is None:
        raise UsageProblem("genmon check needs -A MODULE[:APP]")
    try:
        kinds = parse_fail_on(fail_on)
    except ValueError as exc:
        raise UsageProblem(f"--fail-on: {exc}") from None
    secured = security(kafka_properties, kafka_config, embedded)
    broker = broker_choice(broker, embedded, secured, app=True)
    for option, path in (("--junit", junit_path), ("--summary", summary_path), ("--record", record_path)):
        writable(option, path)
    feeds = read_feeds(feed_specs, feed_rate, feed_key_separator)
    opts = Options(
        broker,
        embedded,
        app_spec,
        settle=settle,
        loglevel=level(loglevel),
        create_topics=create_topics,
        workers=workers,
        record=record_path,
        security=secured,
        feeds=feeds,
        announce_broker=True,
    )
    with running(opts) as run:
        snapshot = settle_and_read(run.watcher, duration, settle)
    from genmon.cli.report import print_report

    snapshot = outcome.final_snapshot(run, snapshot)
    run.close_recording()  # whole: its last sample is the snapshot judged here
    found = problems(snapshot, kinds, declared_sinks=sinks)
    if junit_path is not None:
        from genmon.cli.junit import write_junit

        write_junit(junit_path, snapshot, found)
    from genmon.cli.summary import github_actions, github_annotations, write_summary

    for path in dict.fromkeys(p for p in (summary_path, os.environ.get("GITHUB_STEP_SUMMARY")) if p):
        write_summary(path, snapshot, found)
    print_report(snapshot, json_output)
    if github_actions():  # workflow commands are read from the output; with --json, stdout is the JSON's
        for line in github_annotations(found, snapshot):
            click.echo(line, err=json_output)
    if not json_output:
        click.echo(
            f"genmon check: {plural(len(found), 'problem')}" + "".join(f"\n  - {line}" for line in found)
        )
    if not found and not allow_empty and not any(_seen(p) for p in snapshot.pipelines):
        click.echo(
            "genmon check: no pipeline seen: nothing sent to a topic during the run. Feed the app with "
            "--feed TOPIC=FILE (a JSON value per line), mark a generator with @genmon.track, or check "
            "that the app's tasks and timers send; --allow-empty passes anyway.",
            err=True,
        )
        sys.exit(Exit.EMPTY)
    hung = outcome.hung(run)
    faulted = outcome.broker_fault(run, snapshot)
    sys.exit(
        faulted
        or (Exit.PROBLEM if found else Exit.DRAINING if snapshot.draining else Exit.HUNG if hung else Exit.OK)
    )
