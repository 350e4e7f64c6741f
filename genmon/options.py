"""The options the ``genmon`` commands share, and the parameter types that give one-line errors."""

from __future__ import annotations

import click

LEVELS = ("debug", "info", "warning", "error")


class PositiveNumber(click.ParamType):
    """A number above zero, with an error message a user understands."""

    name = "N"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not number > 0 or number != number or number == float("inf"):
            self.fail(f"{value!r} must be a number greater than 0", param, ctx)
        return number


positive = PositiveNumber()


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
    type=positive,
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
