"""The options the ``genmon`` commands share, and the parameter types that give one-line errors."""

from __future__ import annotations

from typing import Any

import click

LEVELS = ("debug", "info", "warning", "error")


class PositiveNumber(click.ParamType):
    """A number above zero and at most ``maximum``, with an error message a user understands.

    The maximum is not cosmetic: a ``--duration 1e10`` reaches ``time.sleep`` and overflows the
    platform's time type there, long after the broker started; every bound is checked at parse time."""

    name = "N"

    def __init__(self, maximum: float, unit: str = "") -> None:
        self.maximum = maximum
        self.unit = unit

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not number > 0 or number != number or number == float("inf"):
            self.fail(f"{value!r} must be a number greater than 0", param, ctx)
        if number > self.maximum:
            self.fail(f"{value!r} is more than the maximum, {self.maximum:g}{self.unit}", param, ctx)
        return number


WEEK_SECONDS = 7 * 24 * 3600.0
seconds = PositiveNumber(WEEK_SECONDS, " s (a week)")
"""A duration: more than a week of a monitoring run is a typo."""
settle_seconds = PositiveNumber(3600.0, " s")
"""A settle time: past an hour, no shortfall would ever count as lost."""
rate_type = PositiveNumber(100_000.0, " values/s")
"""A demo generator's rate: far above what one Faust app sends."""


class UsageProblem(click.UsageError):
    """A bad option value discovered after parsing (still exit 2, still one line)."""


app_option = click.option(
    "-A", "--app", "app_spec", metavar="MODULE[:APP]", help="Monitor your own Faust app (as faust -A does)."
)
broker_option = click.option(
    "-b", "--broker", metavar="URL", help="Use this Kafka broker (kafka://HOST:PORT)."
)
embedded_option = click.option(
    "--embedded", is_flag=True, help="With -A: run your app on genmon's embedded broker instead of its own."
)
settle_option = click.option(
    "--settle",
    type=settle_seconds,
    default=5.0,
    show_default=True,
    metavar="SECONDS",
    help="Seconds a pipeline must be quiet before a shortfall counts as lost, not in flight.",
)
create_topics_option = click.option(
    "--create-topics",
    is_flag=True,
    help="With -A on your broker: create the topics your agents read, if missing, before the app starts "
    "(always done with --embedded).",
)
json_option = click.option("--json", "json_output", is_flag=True, help="Print the snapshot as JSON.")
loglevel_option = click.option(
    "-l",
    "--loglevel",
    type=click.Choice(LEVELS, case_sensitive=False),
    default="info",
    show_default=True,
    help="Lowest level shown in the log panel (and written to the log file).",
)
workers_option = click.option(
    "--workers",
    type=click.IntRange(1, 16),
    default=1,
    show_default=True,
    metavar="N",
    help="Run the app as N worker processes (one consumer group), watched as one fleet.",
)


def _keep_log(_ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        from genmon.watch.logs import RunLogs

        RunLogs.keep = True


keep_log_option = click.option(
    "--keep-log",
    is_flag=True,
    expose_value=False,
    callback=_keep_log,
    help="Keep this run's log files after exit (kept anyway, and their path printed, when the run "
    "ends with a problem: exit status 1, 3, 4, 5 or 6).",
)

kafka_property_option = click.option(
    "-X",
    "kafka_properties",
    multiple=True,
    metavar="KEY=VALUE",
    help="A Kafka client property for genmon's own clients (repeatable), as kcat takes them: "
    "security.protocol, sasl.mechanism, sasl.username, sasl.password, ssl.ca.location, "
    "ssl.certificate.location, ssl.key.location, ssl.key.password, ssl.endpoint.identification.algorithm.",
)
kafka_config_option = click.option(
    "--kafka-config",
    metavar="FILE",
    envvar="GENMON_KAFKA_CONFIG",
    help="Kafka client properties from a file, as Kafka's CLI takes --command-config; -X overrides it.  "
    "[default: $GENMON_KAFKA_CONFIG]",
)


def kafka_options(command: Any) -> Any:
    """``-X`` and ``--kafka-config``: how genmon's clients authenticate (docs/BROKERS.md)."""
    return kafka_property_option(kafka_config_option(command))


feed_option = click.option(
    "--feed",
    "feed_specs",
    multiple=True,
    metavar="TOPIC=FILE",
    help="With -A: produce every line of FILE (a JSON value per line; - for standard input) to TOPIC "
    "through your app's own topic, once it runs, each value's id its line number (repeatable).",
)
feed_rate_option = click.option(
    "--feed-rate",
    type=rate_type,
    default=None,
    metavar="N",
    help="Feed N values per second.  [default: as fast as the app takes them]",
)
feed_key_option = click.option(
    "--feed-key-separator",
    metavar="SEP",
    default=None,
    help="Feed lines are KEY SEP VALUE (as kcat -K): the key is the text before the first SEP.",
)


def feed_options(command: Any) -> Any:
    """``--feed``, ``--feed-rate``, ``--feed-key-separator``: values from outside (genmon.model.feed)."""
    return feed_option(feed_rate_option(feed_key_option(command)))


def read_feeds(specs: tuple[str, ...], rate: float | None, separator: str | None) -> list[Any]:
    """The ``--feed``s, read and checked before anything starts (a bad line: one error, exit 2)."""
    import sys

    from genmon.model.feed import FeedError, read_feed

    if (rate is not None or separator is not None) and not specs:
        raise UsageProblem("--feed-rate and --feed-key-separator go with --feed")
    if separator == "":
        raise UsageProblem("--feed-key-separator: give at least one character")
    if sum(1 for spec in specs if spec.rstrip().endswith("=-")) > 1:
        raise UsageProblem("--feed: only one feed can read standard input")
    taken: set[str] = set()
    try:
        return [read_feed(s, rate=rate, key_separator=separator, stdin=sys.stdin, taken=taken) for s in specs]
    except FeedError as exc:
        raise UsageProblem(str(exc)) from None


fleet_broker_option = click.option(
    "-b",
    "--broker",
    metavar="URL",
    envvar="GENMON_BROKER",
    help="The broker the workers report to (kafka://HOST:PORT).  [default: $GENMON_BROKER]",
)
fleet_app_option = click.option(
    "--app-id", metavar="ID", default=None, help="Only this app's workers.  [default: every app]"
)


class ListenAddress(click.ParamType):
    """``HOST:PORT``, ``:PORT`` or ``PORT`` (host 127.0.0.1), ``[::1]:PORT``: where an endpoint listens."""

    name = "HOST:PORT"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str, int]:
        if isinstance(value, tuple):
            return value
        text = str(value).strip()
        host, sep, port = text.rpartition(":")
        if not sep:
            host, port = "", text
        host = host.strip("[]") or "127.0.0.1"
        if not port.isdigit() or not 0 < int(port) < 65536:
            self.fail(f"{text!r} is not HOST:PORT (a port from 1 to 65535)", param, ctx)
        return host, int(port)


prometheus_option = click.option(
    "--prometheus",
    type=ListenAddress(),
    default=None,
    metavar="HOST:PORT",
    help="Serve Prometheus metrics of every pipeline on http://HOST:PORT/metrics (PORT alone: on 127.0.0.1).",
)


record_option = click.option(
    "--record",
    "record_path",
    metavar="FILE",
    default=None,
    help="Record the run to FILE as it happens (reports, broker truth, samples): open it anywhere "
    "with genmon replay FILE.",
)


def writable(option: str, path: str | None) -> None:
    """A file an option will write: its folder must exist and be writable (checked before anything starts)."""
    import os

    if path is not None:
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
            raise UsageProblem(f"{option}: cannot write in {folder}")


def fail_on_option(help_text: str) -> Any:
    from genmon.model import DEFAULT_FAIL_ON, PROBLEMS

    return click.option(
        "--fail-on",
        default=",".join(DEFAULT_FAIL_ON),
        show_default=True,
        metavar="KINDS",
        help=f"{help_text}, a comma list of {', '.join(PROBLEMS)}.",
    )


junit_option = click.option(
    "--junit",
    "junit_path",
    metavar="FILE",
    default=None,
    help="Also write the result as JUnit XML (a test case per pipeline, a failure per problem) for "
    "CI test reporters.",
)
summary_option = click.option(
    "--summary",
    "summary_path",
    metavar="FILE",
    default=None,
    help="Also append the result as Markdown (problems, table, the flow as a Mermaid chart) to FILE; "
    "under GitHub Actions it goes to $GITHUB_STEP_SUMMARY by itself.",
)
