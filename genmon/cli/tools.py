"""``genmon worker`` (a ``faust worker`` with genmon attached) and ``genmon kafka`` (a real Apache
Kafka on this machine): the tools around the monitor."""

from __future__ import annotations

import os
import shlex
import signal
import sys
import time
from typing import Any

import click

from genmon.broker import BrokerError, parse_broker_url
from genmon.cli.base import CONTEXT_SETTINGS, security
from genmon.cli.options import kafka_options


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
@kafka_options
@click.argument("faust_args", nargs=-1, type=click.UNPROCESSED)
def worker(
    app_spec: str,
    report_to: str,
    kafka_properties: tuple[str, ...],
    kafka_config: str | None,
    faust_args: tuple[str, ...],
) -> None:
    """Run `faust -A MODULE worker [FAUST_ARGS]` with genmon attached (GENMON_BROKER set).

    The same as setting GENMON_BROKER=app (or a URL) in the environment of any faust worker, e.g. a
    Kubernetes Deployment: see `genmon watch` to watch them. genmon's clients use the app's own
    credentials, or -X / --kafka-config (GENMON_KAFKA_PROPERTIES / GENMON_KAFKA_CONFIG).
    """
    if report_to != "app":
        parse_broker_url(report_to)  # malformed: one line, exit 2
    security(kafka_properties, kafka_config)  # unusable properties: one line, exit 2, before Faust
    env = {**os.environ, "GENMON_BROKER": report_to}
    if kafka_config is not None:
        env["GENMON_KAFKA_CONFIG"] = kafka_config
    if kafka_properties:  # the environment, not the command line: other users can read a command line
        env["GENMON_KAFKA_PROPERTIES"] = "\n".join(kafka_properties)
    command = [sys.executable, "-m", "faust", "-A", app_spec, "worker", *faust_args]
    os.execvpe(sys.executable, command, env)


@click.command(context_settings=CONTEXT_SETTINGS)
@click.option(
    "--port", type=click.IntRange(1, 65535), default=None, help="Listen on this port.  [default: a free one]"
)
@click.option(
    "--secure",
    is_flag=True,
    help="Require TLS and SASL as managed clusters do: a SASL_SSL listener (SCRAM-SHA-512 and PLAIN) "
    "with a CA made now, and a mutual-TLS listener; prints the settings to connect with.",
)
@click.option("--acls", is_flag=True, help="With --secure: enforce ACLs (admin is the only super user).")
def kafka(port: int | None, secure: bool, acls: bool) -> None:
    """Run a real Apache Kafka 4 on 127.0.0.1 until Ctrl+C: single node, KRaft, data deleted at stop.

    Needs Java 17+ and Maven (the broker's jars come from Maven Central, once, then from a cache).
    Point genmon (or your app) at the URL it prints.
    """
    from genmon.broker import KafkaBroker
    from genmon.broker.kafka import jars_cached, kafka_version
    from genmon.broker.secure import SecureKafkaBroker

    if acls and not secure:
        raise click.UsageError("--acls goes with --secure")
    if not jars_cached():
        click.echo(f"genmon: fetching Apache Kafka {kafka_version()} from Maven Central (once)…", err=True)
    stop: list[int] = []  # a signal handler must not take a lock (Event.set can deadlock the wait)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda number, _: stop.append(number))
    made = SecureKafkaBroker(port=port, acls=acls) if secure else KafkaBroker(port=port)
    with made as broker:
        click.echo(f"Apache Kafka {broker.version} at {broker.url} (single node; Ctrl+C stops it)")
        if isinstance(broker, SecureKafkaBroker):
            _say_secure(broker)
        else:
            click.echo(f"  try: genmon --broker {broker.url}")
        while not stop:
            time.sleep(0.5)  # the sleep resumes after a signal's handler (PEP 475): stops within 0.5 s
            if not stop and not broker.is_up():
                raise BrokerError(f"the local Kafka at {broker.url} exited")
    click.echo("genmon: Kafka stopped; its data is deleted", err=True)


def _say_secure(broker: Any) -> None:
    """How to connect to the secured local Kafka: the user's properties file, ``-X`` settings and
    a Faust app's ``broker_credentials`` (its files live until the broker stops)."""
    config = broker.write_client_properties("alice")
    admin = broker.write_client_properties("admin")
    x_args = " ".join(shlex.quote(arg) for arg in broker.x_args("alice"))
    click.echo(f"  SASL_SSL, SCRAM-SHA-512 (and PLAIN); users: {', '.join(broker.passwords)}")
    acls = " with ACLs enforced (admin is the super user)" if broker.acls else ""
    click.echo(f"  alice's client properties{acls}: {config}  (admin's: {admin})")
    click.echo(f"  the CA: {broker.ca}")
    click.echo(f"  mutual TLS (a client certificate required): {broker.mtls_url}")
    click.echo(f"  try: genmon --broker {broker.url} --kafka-config {config}")
    click.echo(f"   or: genmon watch --broker {broker.url} {x_args}")
    click.echo(
        "  a Faust app: broker_credentials=faust.SASLCredentials(username='alice', password=…, "
        f"mechanism='SCRAM-SHA-512', ssl_context=ssl.create_default_context(cafile='{broker.ca}'))"
    )
