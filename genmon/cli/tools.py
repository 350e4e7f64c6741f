"""``genmon worker`` (a ``faust worker`` with genmon attached) and ``genmon kafka`` (a real Apache
Kafka on this machine): the tools around the monitor."""

from __future__ import annotations

import os
import signal
import sys
import time

import click

from genmon.broker import BrokerError, parse_broker_url
from genmon.cli.base import CONTEXT_SETTINGS


@click.command(
    context_settings={**CONTEXT_SETTINGS, "ignore_unknown_options": True, "allow_extra_args": True}
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
    if report_to != "app":
        parse_broker_url(report_to)  # malformed: one line, exit 2
    env = {**os.environ, "GENMON_BROKER": report_to}
    command = [sys.executable, "-m", "faust", "-A", app_spec, "worker", *faust_args]
    os.execvpe(sys.executable, command, env)


@click.command(context_settings=CONTEXT_SETTINGS)
@click.option(
    "--port", type=click.IntRange(1, 65535), default=None, help="Listen on this port.  [default: a free one]"
)
def kafka(port: int | None) -> None:
    """Run a real Apache Kafka 4 on 127.0.0.1 until Ctrl+C: single node, KRaft, data deleted at stop.

    Needs Java 17+ and Maven (the broker's jars come from Maven Central, once, then from a cache).
    Point genmon (or your app) at the URL it prints.
    """
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
